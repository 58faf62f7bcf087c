"""
What a DAG run cost (its usage records), and what the organization spent (OpenAI's Costs and Usage APIs).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

SOURCES = ("run", "organization")
FORMATS = ("csv", "json")
MAX_PAGES = 1000
DAY = 86_400
COUNTS = ("calls", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "total_tokens")


def _seconds(argument: str, value: Any) -> int:
    """Unix seconds from a datetime, an ISO 8601 text or a number."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(moment.timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            return _seconds(argument, datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            pass
    raise InvalidArgumentError(argument, f"must be a datetime, ISO 8601 text or Unix seconds, got {value!r}")


def _format(output_path: str) -> str:
    suffix = output_path.rsplit(".", 1)[-1].lower() if "." in output_path.rsplit("/", 1)[-1] else ""
    if suffix not in FORMATS:
        raise InvalidArgumentError("output_path", f"must end with .csv or .json, got {output_path!r}")
    return suffix


def rows_bytes(rows: Sequence[Mapping[str, Any]], fmt: str) -> bytes:
    """
    The rows as CSV (a header of every column, in order of first appearance) or as a JSON list.

    :param rows: the rows.
    :param fmt: ``csv`` or ``json``.
    """
    if fmt == "json":
        return json.dumps(list(rows), indent=1, default=str).encode("utf-8")
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _add(total: dict[str, Any], record: Mapping[str, Any]) -> None:
    for name in COUNTS:
        value = record.get(name)
        total[name] = total.get(name, 0) + (value if isinstance(value, int) else 0)
    cost = record.get("cost_usd")
    if isinstance(cost, int | float) and total.get("cost_usd", 0.0) is not None:
        total["cost_usd"] = round(total.get("cost_usd", 0.0) + cost, 8)
    else:
        total["cost_usd"] = None


def summarize(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """
    The run's records summed in all, by model and by task: calls, tokens and cost (``None`` when a record's cost is
    unknown, with ``unknown_cost_records`` counting them).

    :param records: usage records, each with its ``task_id``.
    """
    total: dict[str, Any] = {"cost_usd": 0.0}
    by_model: dict[str, dict[str, Any]] = {}
    by_task: dict[str, dict[str, Any]] = {}
    for record in records:
        _add(total, record)
        _add(by_model.setdefault(str(record.get("model")), {"model": record.get("model"), "cost_usd": 0.0}), record)
        _add(
            by_task.setdefault(str(record.get("task_id")), {"task_id": record.get("task_id"), "cost_usd": 0.0}), record
        )
    known = sum(r["cost_usd"] for r in records if isinstance(r.get("cost_usd"), int | float))
    return {
        "source": "run",
        "records": len(records),
        "total": total,
        "known_cost_usd": round(known, 8),
        "unknown_cost_records": sum(1 for r in records if not isinstance(r.get("cost_usd"), int | float)),
        "by_model": list(by_model.values()),
        "by_task": list(by_task.values()),
    }


def table(rows: Sequence[Mapping[str, Any]], key: str) -> str:
    """
    A plain-text table of summary rows (``key``, calls, input, cached, output, total tokens, cost).

    :param rows: the rows.
    :param key: the first column.
    """
    header = f"{key:<40} {'calls':>7} {'input':>12} {'cached':>10} {'output':>12} {'total':>12} {'cost_usd':>12}"
    lines = [header, "-" * len(header)]
    for row in rows:
        cost = "unknown" if row.get("cost_usd") is None else f"{row['cost_usd']:.6f}"
        lines.append(
            f"{row.get(key)!s:<40} {row.get('calls', 0):>7} {row.get('input_tokens', 0):>12} "
            f"{row.get('cached_tokens', 0):>10} {row.get('output_tokens', 0):>12} {row.get('total_tokens', 0):>12} "
            f"{cost:>12}"
        )
    return "\n".join(lines)


class OpenAIUsageReportOperator(OpenAIFusionBaseOperator):
    """
    Report what was spent.

    ``source="run"``: the usage records (XCom ``openai_fusion_usage``) of every task instance of this DAG run so
    far, every map index, summed by model and by task (calls, tokens, cost); a table goes to the log, the rows to
    ``output_path``. Put it last (e.g. ``trigger_rule="all_done"``) to see the whole run.

    ``source="organization"``: OpenAI's Costs API (``GET /organization/costs``) and Usage API
    (``GET /organization/usage/{completions,embeddings,moderations,images,audio_speeches,audio_transcriptions,
    vector_stores}``) for the run's data interval (the day before it when it is empty, as for a manual run; or
    ``start_time`` / ``end_time``), every page, in daily buckets
    grouped by ``group_by``; one row per bucket and result goes to ``output_path``. It needs the connection's
    ``admin_api_key`` (an organization admin key), which no other operator uses.

    :param source: ``run`` or ``organization``.
    :param output_path: a local path or an ``ObjectStoragePath`` URI ending with ``.csv`` or ``.json``. (templated)
    :param start_time: the first moment (datetime, ISO 8601 or Unix seconds); default: the data interval's start.
        (templated)
    :param end_time: the end, exclusive; default: the data interval's end. (templated)
    :param group_by: fields to group by: ``project_id``, ``line_item`` (costs), ``model``, ``api_key_id``,
        ``user_id``, ``batch``, ``service_tier``, ``size``, ``source``; each endpoint gets those it takes.
    :param usage_sources: the Usage API endpoints to read (default: all seven).
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: a small summary: ``run``: totals by model and by task; ``organization``: the window, the rows per
        endpoint, the total cost by currency and the path written.
    """

    template_fields: Sequence[str] = ("conn_id", "output_path", "start_time", "end_time")

    def __init__(
        self,
        *,
        source: str = "run",
        output_path: str | None = None,
        start_time: Any = None,
        end_time: Any = None,
        group_by: Sequence[str] | str | None = None,
        usage_sources: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.output_path = output_path
        self.start_time = start_time
        self.end_time = end_time
        self.group_by = group_by
        self.usage_sources = usage_sources

    @cached_property
    def admin_hook(self) -> OpenAIFusionHook:
        """A hook of ``conn_id`` that sends the connection's ``admin_api_key``."""
        from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

        return OpenAIFusionHook(conn_id=self.conn_id, admin=True)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import choice

        source = choice("source", self.source, SOURCES)
        fmt = _format(self.output_path) if self.output_path else None
        if source == "run":
            return self._run(context, fmt)
        return self._organization(context, fmt)

    def _write(self, rows: Sequence[Mapping[str, Any]], fmt: str | None) -> str | None:
        from airflow_provider_openai_fusion._atomic import write_atomically
        from airflow_provider_openai_fusion.operators._io import write_output

        if fmt is None:
            return None
        content = rows_bytes(rows, fmt)
        path = write_output("output_path", self.output_path, lambda local: write_atomically(local, content))
        self.log.info("Wrote %d rows to %s", len(rows), path)
        return path

    def _run(self, context: Context, fmt: str | None) -> dict[str, Any]:
        from airflow_provider_openai_fusion._ledger import run_records

        records = [r for r in run_records(context) if r.get("task_id") != self.task_id]
        summary = summarize(records)
        self.log.info("Cost of this DAG run by model:\n%s", table(summary["by_model"], "model"))
        self.log.info("Cost of this DAG run by task:\n%s", table(summary["by_task"], "task_id"))
        if summary["unknown_cost_records"]:
            self.log.warning(
                "%d record(s) have no known cost (no price for their model)", summary["unknown_cost_records"]
            )
        summary["path"] = self._write(records, fmt)
        return summary

    def _window(self, context: Context) -> tuple[int, int]:
        """The given times, else the run's data interval; an empty interval (a manual run) means the day before it."""
        start = self.start_time if self.start_time is not None else context.get("data_interval_start")
        end = self.end_time if self.end_time is not None else context.get("data_interval_end")
        if start is None:
            raise InvalidArgumentError("start_time", "is needed: this run has no data interval")
        start_s = _seconds("start_time", start)
        end_s = _seconds("end_time", end) if end is not None else int(datetime.now(timezone.utc).timestamp())
        if self.start_time is None and self.end_time is None and end_s == start_s:
            start_s -= DAY
        if end_s <= start_s:
            raise InvalidArgumentError("end_time", f"must be after start_time ({end_s} <= {start_s})")
        return start_s, end_s

    def _sources(self) -> list[str]:
        from airflow_provider_openai_fusion.api.usage import USAGE_SOURCES

        chosen = list(USAGE_SOURCES if self.usage_sources is None else self.usage_sources)
        if bad := [name for name in chosen if name not in USAGE_SOURCES]:
            raise InvalidArgumentError("usage_sources", f"{bad[0]!r} is not one of {', '.join(USAGE_SOURCES)}")
        return ["costs", *chosen]

    def _group_by(self) -> list[str]:
        from airflow_provider_openai_fusion.api.usage import GROUP_BY

        fields = [self.group_by] if isinstance(self.group_by, str) else list(self.group_by or [])
        known = {name for names in GROUP_BY.values() for name in names}
        if bad := [name for name in fields if name not in known]:
            raise InvalidArgumentError("group_by", f"{bad[0]!r} is not one of {', '.join(sorted(known))}")
        return fields

    def _organization(self, context: Context, fmt: str | None) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api.usage import GROUP_BY, usage_page

        group_by, sources = self._group_by(), self._sources()
        start, end = self._window(context)
        rows: list[dict[str, Any]] = []
        per_source: dict[str, int] = {}
        for source in sources:
            grouping = [name for name in group_by if name in GROUP_BY[source]]
            found = self._all_pages(source, lambda page, s=source, g=grouping: usage_page(s, start, end, g, page))
            per_source[source] = len(found)
            rows += found
        costs: dict[str, float] = {}
        for row in rows:
            if row["source"] == "costs" and isinstance(row.get("amount_value"), int | float):
                currency = str(row.get("amount_currency") or "usd")
                costs[currency] = round(costs.get(currency, 0.0) + row["amount_value"], 6)
        self.log.info(
            "Organization usage %s to %s: %s; cost %s",
            datetime.fromtimestamp(start, tz=timezone.utc).isoformat(),
            datetime.fromtimestamp(end, tz=timezone.utc).isoformat(),
            ", ".join(f"{name} {count} rows" for name, count in per_source.items()),
            ", ".join(f"{value:.2f} {currency}" for currency, value in costs.items()) or "none",
        )
        return {
            "source": "organization",
            "start_time": start,
            "end_time": end,
            "group_by": group_by,
            "rows": per_source,
            "total_cost": costs,
            "path": self._write(rows, fmt),
        }

    def _all_pages(self, source: str, page_spec: Any) -> list[dict[str, Any]]:
        """Every page of one endpoint, following ``next_page``; a cursor seen twice ends it with an error."""
        from airflow_provider_openai_fusion.api.usage import bucket_rows
        from airflow_provider_openai_fusion.exceptions import APIResponseValidationError

        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.admin_hook.request(page_spec(cursor))
            rows += bucket_rows(source, page)
            cursor = page.get("next_page") if page.get("has_more") else None
            if not cursor:
                return rows
            if cursor in seen:
                raise APIResponseValidationError(f"the {source} listing repeated its page cursor {cursor!r}")
            seen.add(cursor)
        raise APIResponseValidationError(f"the {source} listing has more than {MAX_PAGES} pages")

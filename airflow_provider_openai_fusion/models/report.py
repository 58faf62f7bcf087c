"""
The migration report: each model use of the user's DAG files with its shutdown date and replacement, from the
merged data (the server's ``GET /models`` first, the retirement table second), sorted by date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from airflow_provider_openai_fusion.model_lifecycle import REVIEWED_ON, verdict_of
from airflow_provider_openai_fusion.models.scan import ModelUse


@dataclass(frozen=True)
class ReportLine:
    """
    One line of the report.

    :param use: where the model is named.
    :param shutdown: its shutdown date, if known.
    :param replacement: the replacement, if known.
    :param source: ``server``, ``table``, or ``""`` (no date known, templated or dynamic).
    """

    use: ModelUse
    shutdown: date | None
    replacement: str | None
    source: str


def report_lines(
    uses: Sequence[ModelUse], *, base_url: str | None, today: date, live: Mapping[str, date | None] | None
) -> list[ReportLine]:
    """
    The report's lines, sorted by shutdown date (undated last), then model, file and line.

    :param uses: the model uses found.
    :param base_url: the connection's base URL (``None``: OpenAI's).
    :param today: the day to judge by.
    :param live: the server's published dates, or ``None``.
    """
    lines = []
    for use in uses:
        verdict = verdict_of(use.model, base_url=base_url, today=today, live=live) if use.kind == "literal" else None
        if verdict is None:
            lines.append(ReportLine(use, None, None, ""))
        else:
            lines.append(ReportLine(use, verdict.shutdown, verdict.replacement, verdict.source))
    return sorted(
        lines,
        key=lambda line: (
            line.shutdown is None,
            line.shutdown or date.max,
            line.use.model,
            str(line.use.path),
            line.use.line,
        ),
    )


def due(lines: Sequence[ReportLine], *, today: date, within: int) -> list[ReportLine]:
    """
    The lines whose model shuts down within ``within`` days of ``today`` (or already has).

    :param lines: the report's lines.
    :param today: the day to judge by.
    :param within: the number of days.
    """
    return [line for line in lines if line.shutdown is not None and (line.shutdown - today).days <= within]


def _status(line: ReportLine, today: date) -> str:
    if line.use.kind != "literal":
        return f"{line.use.kind}: resolved at run time, not checked"
    if line.shutdown is None:
        return "no shutdown announced"
    days = (line.shutdown - today).days
    return f"shut down {-days} days ago" if days <= 0 else f"in {days} days"


def render(lines: Sequence[ReportLine], *, today: date, within: int, origin: str) -> str:
    """
    The report as text: one block per line (model, date, status, replacement, source, file:line), then a summary.

    :param lines: the report's lines.
    :param today: the day judged by.
    :param within: the gate, in days.
    :param origin: where the server dates came from (or why there are none).
    """
    out = [
        f"Models named in the DAG files, judged on {today.isoformat()} (table reviewed on {REVIEWED_ON.isoformat()}; "
        f"server dates: {origin})",
    ]
    for line in lines:
        shutdown = line.shutdown.isoformat() if line.shutdown else "-"
        source = f"  [{line.source}]" if line.source else ""
        replacement = f"  -> {line.replacement}" if line.replacement else ""
        out.append(
            f"{shutdown:10}  {line.use.model}  ({_status(line, today)}){replacement}{source}\n"
            f"            {line.use.path}:{line.use.line}  {line.use.where}"
        )
    failing = due(lines, today=today, within=within)
    out.append(
        f"{len(lines)} model uses; {len(failing)} shut down within {within} days"
        + (": " + ", ".join(sorted({line.use.model for line in failing})) if failing else "")
    )
    return "\n".join(out)

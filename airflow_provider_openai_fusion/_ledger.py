"""
The usage ledger: what each task try used and cost, pushed as the XCom ``openai_fusion_usage``.

One :class:`Ledger` per task try lives in the try's Airflow context (never on the operator, which may run several
tries); every answer with ``usage`` adds to the row of its model and the XCom is pushed again, so a task that
fails half-way still shows what it spent. A record holds counts and prices only, never prompt or answer text:
``{"model", "calls", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "total_tokens",
"cost_usd", "service_tier", "prices_reviewed_on", "try_number"}``; a task that used several models pushes a list.

:func:`task_usage` returns this try's records (for lineage and telemetry); :func:`run_spent` sums the records of
the whole DAG run, for ``max_run_cost_usd``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from airflow_provider_openai_fusion.pricing import PRICES_REVIEWED_ON, Price, cost_usd, price_of

USAGE_KEY = "openai_fusion_usage"
_CONTEXT_KEY = "openai_fusion_ledger"
_REVIEWED = PRICES_REVIEWED_ON.isoformat()
_NO_USAGE: dict[str, Any] = {}


def _count(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


@dataclass(slots=True)
class Usage:
    """
    What one answer (or a sum of answers) used, read from its ``usage`` whatever its shape.

    :param input_tokens: input tokens, cached ones included.
    :param cached_tokens: cached input tokens.
    :param output_tokens: output tokens, reasoning included.
    :param reasoning_tokens: reasoning tokens.
    :param total_tokens: the total the API reports (or input + output).
    :param images: images made (per-image billing).
    :param audio_minutes: minutes of audio (duration billing).
    :param trained_tokens: tokens trained on (fine-tuning).
    """

    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    images: int = 0
    audio_minutes: float = 0.0
    trained_tokens: int = 0


def read_usage(answer: Any) -> Usage | None:
    """
    The usage of an answer: token counts in either shape the API uses (``prompt_tokens`` / ``completion_tokens``
    or ``input_tokens`` / ``output_tokens``, with their ``*_details``), an audio ``duration`` in seconds, images
    (``paths`` or ``data`` of an image answer) or a fine-tuning job's ``trained_tokens``; ``None`` when it holds
    none of these.

    :param answer: the API response, or the operator's result that keeps ``usage``.
    """
    if type(answer) is not dict:
        return None
    usage = answer.get("usage")
    if type(usage) is not dict:
        usage = _NO_USAGE
    get = usage.get
    inputs = get("input_tokens_details") or get("prompt_tokens_details")
    outputs = get("output_tokens_details") or get("completion_tokens_details")
    found = Usage(
        _count(get("input_tokens") or get("prompt_tokens")),
        _count(inputs.get("cached_tokens")) if type(inputs) is dict else 0,
        _count(get("output_tokens") or get("completion_tokens")),
        _count(outputs.get("reasoning_tokens")) if type(outputs) is dict else 0,
    )
    found.total_tokens = _count(get("total_tokens")) or found.input_tokens + found.output_tokens
    if found.total_tokens:
        return found
    found.trained_tokens = _count(answer.get("trained_tokens"))
    if get("type") == "duration" and isinstance(get("seconds"), int | float):
        found.audio_minutes = max(float(usage["seconds"]), 0.0) / 60
    if "created" in answer and "choices" not in answer and "output" not in answer:
        images = answer.get("paths") if isinstance(answer.get("paths"), list) else None
        if images is None and answer.get("object") is None and isinstance(answer.get("data"), list):
            images = answer["data"]
        found.images = len(images) if images is not None else 0
    if found.trained_tokens and not found.total_tokens:
        found.input_tokens = found.total_tokens = found.trained_tokens
    if not (found.total_tokens or found.audio_minutes or found.images):
        return None
    return found


@dataclass(slots=True)
class Row:
    """One model's sums within a task try."""

    model: str | None
    tier: str | None
    calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = 0.0

    def record(self, try_number: int | None) -> dict[str, Any]:
        """The XCom record of this row: counts and prices only."""
        return {
            "model": self.model,
            "calls": self.calls,
            "input_tokens": self.usage.input_tokens,
            "cached_tokens": self.usage.cached_tokens,
            "output_tokens": self.usage.output_tokens,
            "reasoning_tokens": self.usage.reasoning_tokens,
            "total_tokens": self.usage.total_tokens,
            "cost_usd": None if self.cost is None else round(self.cost, 8),
            "service_tier": self.tier,
            "prices_reviewed_on": _REVIEWED,
            "try_number": try_number,
        }


class Ledger:
    """
    The sums of one task try, by model and service tier, with the unknown models already warned about.

    :param try_number: the try, for the records.
    """

    def __init__(self, try_number: int | None = None) -> None:
        self.try_number = try_number
        self.rows: dict[tuple[str | None, str | None], Row] = {}
        self.warned: set[str | None] = set()
        self.models: set[str] = set()
        """The models this try checked before sending (``check_model``): a batch's usage names none."""

    def only_model(self) -> str | None:
        """The one model this try sent, or ``None`` when it sent several or none."""
        return next(iter(self.models)) if len(self.models) == 1 else None

    def add(
        self, model: str | None, usage: Usage, tier: str | None, calls: int, prices: Mapping[str, Price] | None
    ) -> tuple[float | None, bool]:
        """
        Add one answer's usage; return its cost (``None`` if unknown) and whether the model is newly unknown (the
        caller warns once per task).

        :param model: the model that answered.
        :param usage: what it used.
        :param tier: the service tier billed.
        :param calls: how many requests it took.
        :param prices: the connection's price overrides.
        """
        price = price_of(model, prices)
        cost = cost_usd(
            price,
            input_tokens=usage.input_tokens,
            cached_tokens=usage.cached_tokens,
            output_tokens=usage.output_tokens,
            images=usage.images,
            audio_minutes=usage.audio_minutes,
            trained_tokens=usage.trained_tokens,
            tier=tier,
        )
        row = self.rows.get((model, tier))
        if row is None:
            row = self.rows[(model, tier)] = Row(model, tier)
        row.calls += calls
        total = row.usage
        total.input_tokens += usage.input_tokens
        total.cached_tokens += usage.cached_tokens
        total.output_tokens += usage.output_tokens
        total.reasoning_tokens += usage.reasoning_tokens
        total.total_tokens += usage.total_tokens
        row.cost = None if row.cost is None or cost is None else row.cost + cost
        newly_unknown = cost is None and model not in self.warned
        if newly_unknown:
            self.warned.add(model)
        return cost, newly_unknown

    def total(self) -> float | None:
        """This try's cost so far; ``None`` when part of it is unknown."""
        costs = [row.cost for row in self.rows.values()]
        return None if any(cost is None for cost in costs) else sum(costs)  # type: ignore[arg-type]

    def value(self) -> dict[str, Any] | list[dict[str, Any]]:
        """The XCom value: one record, or a list when the try used several models (or tiers)."""
        records = [row.record(self.try_number) for row in self.rows.values()]
        return records[0] if len(records) == 1 else records


@cache
def _context_getter() -> Callable[[], Any]:
    from airflow.sdk import get_current_context

    return get_current_context


def current_context() -> Any:
    """The running task's Airflow context, or ``None`` outside a task (a bare ``execute({})`` in a test)."""
    try:
        return _context_getter()()
    except RuntimeError:
        return None


def ledger_for(context: Any) -> Ledger:
    """
    The ledger of the task try ``context`` belongs to, made on first use; a throwaway one without a context.

    :param context: the task's Airflow context, or ``None``.
    """
    if not isinstance(context, dict):
        return Ledger()
    ledger = context.get(_CONTEXT_KEY)
    if not isinstance(ledger, Ledger):
        ti = context.get("ti")
        ledger = context[_CONTEXT_KEY] = Ledger(getattr(ti, "try_number", None))
    return ledger


def push(context: Any, ledger: Ledger) -> None:
    """
    Push the try's records as the XCom ``openai_fusion_usage`` (replacing the previous push of this try).

    :param context: the task's Airflow context, or ``None`` (nothing is pushed).
    :param ledger: the try's ledger.
    """
    ti = context.get("ti") if isinstance(context, dict) else None
    if ti is not None and ledger.rows:
        ti.xcom_push(key=USAGE_KEY, value=ledger.value())


def task_usage(context: Any = None) -> list[dict[str, Any]]:
    """
    The usage records of this task try so far (one per model and tier), as pushed to ``openai_fusion_usage``.

    :param context: the task's Airflow context; the running task's when omitted.
    """
    ledger = ledger_for(current_context() if context is None else context)
    return [row.record(ledger.try_number) for row in ledger.rows.values()]


def batch_model(batches: Iterable[Mapping[str, Any]]) -> str | None:
    """
    The model of a set of batches (the Batch object's ``model``), or ``None`` when they name none or several.

    :param batches: the batch objects.
    """
    models = {batch.get("model") for batch in batches} - {None}
    return models.pop() if len(models) == 1 else None


def records_of(values: Iterable[Any]) -> list[dict[str, Any]]:
    """
    Flatten XCom values of ``openai_fusion_usage`` (a record, a list of records, or ``None``) into records.

    :param values: the values, one per task instance.
    """
    records: list[dict[str, Any]] = []
    for value in values:
        if isinstance(value, Mapping):
            records.append(dict(value))
        elif isinstance(value, list):
            records.extend(records_of(value))
    return records


def run_records(context: Any) -> list[dict[str, Any]]:
    """
    Every usage record of this DAG run: the ``openai_fusion_usage`` XCom of each of its task instances (every map
    index), tagged with ``task_id``. One XCom read per task of the DAG.

    :param context: the task's Airflow context.
    """
    ti, dag = context.get("ti"), context.get("dag")
    if ti is None or dag is None:
        return []
    records: list[dict[str, Any]] = []
    for task_id in dag.task_ids:
        values = ti.xcom_pull(task_ids=[task_id], key=USAGE_KEY)  # a list of tasks: every map index's value
        records += [{**record, "task_id": task_id} for record in records_of(values or [])]
    return records


def run_spent(context: Any) -> tuple[float, int]:
    """
    What this DAG run has recorded so far: the sum of known costs and how many records have no known cost.

    :param context: the task's Airflow context.
    """
    known, unknown = 0.0, 0
    for record in run_records(context):
        cost = record.get("cost_usd")
        if isinstance(cost, int | float):
            known += cost
        else:
            unknown += 1
    return known, unknown

"""What every operator of the provider shares: the connection argument and the hook."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

DEFAULT_CONN_ID = "openai_fusion_default"
LOGGED_CHARS = 200
PATHS_READ = ("file", "files", "image", "mask", "input_path")
"""The operator arguments that may name files a task reads (local paths or ``ObjectStoragePath`` URIs)."""
PATHS_WRITTEN = ("output_path",)
"""The operator arguments that name what a task writes."""


def _paths(operator: Any, names: Sequence[str]) -> list[str]:
    """The paths and URIs among the values of ``names`` (file ids, which hold no ``/``, are left out)."""
    found = []
    for name in names:
        value = getattr(operator, name, None)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            text = os.fspath(item) if isinstance(item, os.PathLike) else item
            if isinstance(text, str) and ("/" in text or os.sep in text or os.path.exists(text)):
                found.append(text.strip())
    return found


def short(text: Any) -> str:
    """
    ``text`` cut to :data:`LOGGED_CHARS` characters, for a log line.

    :param text: any value.
    """
    text = "" if text is None else str(text)
    return text if len(text) <= LOGGED_CHARS else f"{text[:LOGGED_CHARS]}..."


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _details(usage: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        if isinstance(usage.get(name), dict):
            return cast("dict[str, Any]", usage[name])
    return {}


def usage_line(model: str | None, usage: Any) -> str | None:
    """
    The log line of an answer's token counts: input, output, total, and cached and reasoning tokens when given.

    Reads both shapes the API uses (``prompt_tokens`` / ``completion_tokens`` with ``*_tokens_details``, and
    ``input_tokens`` / ``output_tokens`` with ``*_tokens_details``); ``None`` when ``usage`` holds no token counts
    (absent, or an audio duration).

    :param model: the model that answered.
    :param usage: the answer's ``usage``.
    """
    if not isinstance(usage, dict):
        return None
    given = _count(usage.get("input_tokens", usage.get("prompt_tokens")))
    made = _count(usage.get("output_tokens", usage.get("completion_tokens")))
    total = _count(usage.get("total_tokens"))
    if given is None and made is None and total is None:
        return None
    inputs = _details(usage, "input_tokens_details", "prompt_tokens_details")
    outputs = _details(usage, "output_tokens_details", "completion_tokens_details")
    counts = [("input", given), ("output", made), ("total", total)]
    counts += [("cached", _count(inputs.get("cached_tokens"))), ("reasoning", _count(outputs.get("reasoning_tokens")))]
    shown = ", ".join(f"{name} {value}" for name, value in counts if value is not None)
    return f"Usage of {model or 'the default model'}: {shown} tokens"


def cost_text(cost: float | None) -> str:
    """
    How a usage line ends: the cost in USD, or that it is unknown.

    :param cost: the cost, ``None`` when no price is known.
    """
    return "cost unknown (no price for this model)" if cost is None else f"cost ${cost:.6f}"


def _budget(name: str, value: Any) -> float | None:
    from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(name, f"must be a number of US dollars, got {value!r}") from None
    if isinstance(value, bool) or number != number or number < 0 or number == float("inf"):
        raise InvalidArgumentError(name, f"must be a number of US dollars >= 0, got {value!r}")
    return number


def task_lineage(task: Any, task_instance: Any, written: bool) -> Any:
    """
    The OpenLineage facets of an operator's or sensor's try: what its hook's calls read and made, the files its
    arguments name, the ``openai_fusion`` run facet with the ledger's cost.

    :param task: the operator or sensor (its ``hook``, if made, holds the calls).
    :param task_instance: the task instance OpenLineage passes (its cached context holds the ledger).
    :param written: whether the try succeeded (its outputs are reported).
    """
    from airflow_provider_openai_fusion._ledger import task_usage
    from airflow_provider_openai_fusion.lineage import operator_lineage

    hook: Any = task.__dict__.get("hook")
    records = list(hook.calls) if hook is not None else []
    base_url = hook.settings.base_url if records else ""
    written_paths = _paths(task, PATHS_WRITTEN) if written else []
    calls = hook.calls.calls if hook is not None else 0
    # The try's context (the ledger lives in it) is the task instance's cached one; OpenLineage calls this after
    # execute, where Airflow's current-context is no longer set.
    context = task_instance.get_template_context() if hasattr(task_instance, "get_template_context") else None
    costs = [row.get("cost_usd") for row in task_usage(context)]
    cost = sum(float(c) for c in costs if c is not None) if costs and None not in costs else None
    resumed = hook is not None and hook.calls.resumed
    paths = (_paths(task, PATHS_READ), written_paths)
    return operator_lineage(records, calls, base_url, *paths, cost, resumed=resumed)


class OpenAIFusionBaseOperator(BaseOperator):
    """
    Base of the provider's operators.

    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :param max_cost_usd: refuse a paid call whose worst-case cost passes this many US dollars, before sending it
        (see ``docs/cost.md`` for how the worst case is estimated); after the answer, a cost above it is a warning.
    :param max_run_cost_usd: refuse a paid call when the costs already recorded in this DAG run plus its worst
        case pass this many US dollars; set it once for every task through ``default_args``.
    """

    template_fields: Sequence[str] = ("conn_id",)
    ui_color = "#d5f5e3"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every operator's return value is measured before Airflow stores it as an XCom (``_bounds.py``)."""
        super().__init_subclass__(**kwargs)
        from airflow_provider_openai_fusion._bounds import bounded_return

        for name in ("execute", "execute_complete"):
            if callable(method := cls.__dict__.get(name)):
                setattr(cls, name, bounded_return(method))

    def __init__(
        self,
        *,
        conn_id: str = DEFAULT_CONN_ID,
        max_cost_usd: float | None = None,
        max_run_cost_usd: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.max_cost_usd = max_cost_usd
        self.max_run_cost_usd = max_run_cost_usd

    def pre_execute(self, context: Any) -> None:
        """
        Start each try with a fresh hook, so that nothing of an earlier try (clients, the calls it recorded) is
        carried into this one.

        :param context: the task's context.
        """
        self.__dict__.pop("hook", None)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        """
        Resume after a trigger's event; the job the try re-reads counts as its work for lineage (the try that resumes
        runs in a new process, without the calls made before deferring).

        :param next_method: the method to resume in.
        :param next_kwargs: its keyword arguments (``event``).
        :param context: the task's context.
        """
        self.hook.calls.resumed = True
        return super().resume_execution(next_method, next_kwargs, context)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """
        OpenLineage: the files and OpenAI objects the task read and wrote, and its ``openai_fusion`` run facet
        (models, ids, usage; never content). Called by ``apache-airflow-providers-openlineage`` when installed.

        :param task_instance: the finished task instance.
        """
        return task_lineage(self, task_instance, written=True)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """
        OpenLineage for a failed try: what it read, the OpenAI objects it made before failing, the run facet.

        :param task_instance: the failed task instance.
        """
        return task_lineage(self, task_instance, written=False)

    @cached_property
    def hook(self) -> OpenAIFusionHook:
        """The hook of ``conn_id``, created on first use (at execute time, never at parse time)."""
        from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

        return OpenAIFusionHook(conn_id=self.conn_id)

    def check_model(self, model: str | None) -> None:
        """
        Check ``model`` against its shutdown date before any request: the date the connection's server publishes
        in ``GET /models`` (read once per process, connection and day; see ``live_models``) wins, OpenAI's
        retirement table serves otherwise (at OpenAI's base URL). A model past its date fails the task with the
        date and the replacement; one within 30 days of it gets a warning in the task log.

        :param model: the model the task sends; ``None`` when the server picks.
        """
        from airflow_provider_openai_fusion.model_lifecycle import check_model, today_utc

        if not model:
            return
        from airflow_provider_openai_fusion._ledger import current_context, ledger_for

        ledger_for(current_context()).models.add(model)
        today = today_utc()
        warning = check_model(model, base_url=self.hook.settings.base_url, today=today, live=self.live_dates(today))
        if warning:
            self.log.warning("%s", warning)

    def live_dates(self, today: date) -> Mapping[str, date | None] | None:
        """
        The shutdown dates the connection's server publishes in ``GET /models`` (cached per process, connection
        and day; ``None`` when it publishes none, cannot be read within ``live_models.READ_TIMEOUT``, or
        ``[openai_fusion] live_model_dates`` is off).

        :param today: the day (UTC).
        """
        from airflow.configuration import conf

        from airflow_provider_openai_fusion import live_models
        from airflow_provider_openai_fusion.api.models import list_models

        if not conf.getboolean("openai_fusion", "live_model_dates", fallback=True):
            return None
        hook = self.hook

        def read() -> list[Any]:
            body = hook.send_once(list_models(), timeout=live_models.READ_TIMEOUT).body
            return body.get("data", []) if isinstance(body, dict) else []

        return live_models.published_dates(
            hook.conn_id, hook.settings.base_url, today, read, lambda line: self.log.warning("%s", line)
        )

    def check_budget(self, estimator: Callable[..., Any], *args: Any) -> None:
        """
        Before a paid call: refuse it (:class:`~airflow_provider_openai_fusion.exceptions.BudgetExceededError`, no
        request sent) when its worst case passes ``max_cost_usd``, or the DAG run's recorded costs plus it pass
        ``max_run_cost_usd``. Does nothing, not even the estimate, when neither budget is set.

        :param estimator: a function of ``airflow_provider_openai_fusion._budget`` (``chat``, ``response``, ...).
        :param args: its arguments.
        """
        task_budget = _budget("max_cost_usd", self.max_cost_usd)
        run_budget = _budget("max_run_cost_usd", self.max_run_cost_usd)
        if task_budget is None and run_budget is None:
            return
        from airflow_provider_openai_fusion import _budget as budgets
        from airflow_provider_openai_fusion._ledger import current_context, run_spent

        estimates = estimator(*args)
        estimates = estimates if isinstance(estimates, list) else [estimates]
        spent = run_spent(current_context()) if run_budget is not None else None
        usd = budgets.check(estimates, self.hook.prices, task_budget, run_budget, spent)
        self.log.info(
            "Worst case of this call: $%.6f (max_cost_usd %s, max_run_cost_usd %s%s)",
            usd,
            task_budget,
            run_budget,
            "" if spent is None else f", run so far ${spent[0]:.6f}",
        )

    def log_usage(
        self,
        answer: Any,
        model: str | None = None,
        *,
        tier: str | None = None,
        calls: int = 1,
        free_call: bool = False,
    ) -> None:
        """
        Record the usage of ``answer`` in this try's ledger (pushed as the XCom ``openai_fusion_usage``) and log
        one line with its counts, ending with its cost.

        :param answer: the API response (or the operator's result, which keeps ``usage``).
        :param model: the model sent, when the answer does not name it.
        :param tier: the service tier billed, when the answer does not say (``batch`` for the Batch API).
        :param calls: how many requests the answer sums.
        :param free_call: record a call whose answer carries no usage (moderations).
        """
        from airflow_provider_openai_fusion._ledger import Usage, current_context, ledger_for, push, read_usage

        usage = read_usage(answer)
        if usage is None and not free_call:
            return
        context = current_context()
        ledger = ledger_for(context)
        model = (answer.get("model") if isinstance(answer, dict) else None) or model or ledger.only_model()
        tier = (answer.get("service_tier") if isinstance(answer, dict) else None) or tier
        cost, unknown = ledger.add(model, usage or Usage(), tier, calls, self.hook.prices)
        line = usage_line(model, answer.get("usage")) if isinstance(answer, dict) else None
        if line is None:
            used = usage or Usage()
            what = f"{used.images} image(s)" if used.images else f"{calls} call(s)"
            what = f"{used.audio_minutes:.2f} minute(s) of audio" if used.audio_minutes else what
            line = f"Usage of {model or 'the default model'}: {what}"
        self.log.info("%s, tier %s, %s", line, tier or "default", cost_text(cost))
        if unknown:
            self.log.warning(
                "No price is known for model %r: its cost is recorded as unknown (null), not 0; add it to the "
                "connection's 'prices' extra to price it",
                model,
            )
        push(context, ledger)
        total = ledger.total()
        budget = self.max_cost_usd if isinstance(self.max_cost_usd, int | float) else None
        if budget is not None and total is not None and total > budget:
            self.log.warning("This task has cost $%.6f, above max_cost_usd=$%s", total, budget)

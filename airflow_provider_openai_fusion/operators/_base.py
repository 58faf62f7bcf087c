"""What every operator of the provider shares: the connection argument and the hook."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

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
            return usage[name]
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


class OpenAIFusionBaseOperator(BaseOperator):
    """
    Base of the provider's operators.

    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    """

    template_fields: Sequence[str] = ("conn_id",)
    ui_color = "#d5f5e3"

    def __init__(self, *, conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    def pre_execute(self, context: Any) -> None:
        """
        Start each try with a fresh hook, so that nothing of an earlier try (clients, the calls it recorded) is
        carried into this one.

        :param context: the task's context.
        """
        self.__dict__.pop("hook", None)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        """
        Resume after a trigger's event; the jobs the event carries are recorded as this try's work (for lineage: the
        try that resumes runs in a new process, without the calls made before deferring).

        :param next_method: the method to resume in.
        :param next_kwargs: its keyword arguments (``event``).
        :param context: the task's context.
        """
        from airflow_provider_openai_fusion._http.calls import job_record

        event = (next_kwargs or {}).get("event")
        jobs = [event.get("job"), *(event.get("batches") or ())] if isinstance(event, dict) else []
        for job in jobs:
            if isinstance(job, dict) and isinstance(job.get("object"), str):
                self.hook.calls.add(job_record(job))
        return super().resume_execution(next_method, next_kwargs, context)

    def _lineage(self, written: bool) -> Any:
        from airflow_provider_openai_fusion.lineage import operator_lineage

        hook = self.__dict__.get("hook")
        records = list(hook.calls) if hook is not None else []
        base_url = hook.settings.base_url if records else ""
        written_paths = _paths(self, PATHS_WRITTEN) if written else []
        calls = hook.calls.calls if hook is not None else 0
        return operator_lineage(records, calls, base_url, _paths(self, PATHS_READ), written_paths)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """
        OpenLineage: the files and OpenAI objects the task read and wrote, and its ``openai_fusion`` run facet
        (models, ids, usage; never content). Called by ``apache-airflow-providers-openlineage`` when installed.

        :param task_instance: the finished task instance.
        """
        return self._lineage(written=True)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """
        OpenLineage for a failed try: what it read, the OpenAI objects it made before failing, the run facet.

        :param task_instance: the failed task instance.
        """
        return self._lineage(written=False)

    @cached_property
    def hook(self) -> OpenAIFusionHook:
        """The hook of ``conn_id``, created on first use (at execute time, never at parse time)."""
        from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

        return OpenAIFusionHook(conn_id=self.conn_id)

    def check_model(self, model: str | None) -> None:
        """
        Check ``model`` against OpenAI's retirement table before any request; at OpenAI's base URL a model past its
        shutdown date fails the task, and one within 30 days of it gets a warning in the task log.

        :param model: the model the task sends; ``None`` when the server picks.
        """
        from airflow_provider_openai_fusion.model_lifecycle import check_model

        warning = check_model(model, base_url=self.hook.settings.base_url)
        if warning:
            self.log.warning("%s", warning)

    def log_usage(self, answer: Any, model: str | None = None) -> None:
        """
        Log one line with the token counts of ``answer``, when it has ``usage``.

        :param answer: the API response (or the operator's result, which keeps ``usage``).
        :param model: the model sent, when the answer does not name it.
        """
        if isinstance(answer, dict) and (line := usage_line(answer.get("model") or model, answer.get("usage"))):
            self.log.info("%s", line)

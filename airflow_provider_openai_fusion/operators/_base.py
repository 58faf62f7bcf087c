"""What every operator of the provider shares: the connection argument and the hook."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

DEFAULT_CONN_ID = "openai_fusion_default"
LOGGED_CHARS = 200


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

    def log_usage(self, answer: Any, model: str | None = None) -> None:
        """
        Log one line with the token counts of ``answer``, when it has ``usage``.

        :param answer: the API response (or the operator's result, which keeps ``usage``).
        :param model: the model sent, when the answer does not name it.
        """
        if isinstance(answer, dict) and (line := usage_line(answer.get("model") or model, answer.get("usage"))):
            self.log.info("%s", line)

"""What every operator of the provider shares: the connection argument and the hook."""

from __future__ import annotations

from collections.abc import Sequence
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


def usage_text(response: dict[str, Any]) -> str:
    """
    The token counts of an answer, for a log line.

    :param response: the API response.
    """
    usage = response.get("usage") or {}
    return f"{usage.get('prompt_tokens', '?')} prompt + {usage.get('completion_tokens', '?')} completion tokens"


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

"""What every operator of the provider shares: the connection argument and the hook."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

DEFAULT_CONN_ID = "openai_fusion_default"


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


def choice(argument: str, value: Any, allowed: Sequence[str]) -> str:
    """
    Check that ``value`` is one of ``allowed``.

    :param argument: the argument's name, for the error.
    :param value: the value given.
    :param allowed: the accepted values.
    """
    if value not in allowed:
        raise InvalidArgumentError(argument, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def required(argument: str, value: Any, because: str) -> Any:
    """
    Check that an argument needed by the chosen action is set.

    :param argument: the argument's name, for the error.
    :param value: the value given.
    :param because: why it is needed (e.g. ``"action='retrieve'"``).
    """
    if value is None or (isinstance(value, str | list | tuple | dict) and not value):
        raise InvalidArgumentError(argument, f"is required with {because}")
    return value

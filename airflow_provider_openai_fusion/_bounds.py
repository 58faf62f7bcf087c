"""
The size bounds of what a task hands to Airflow's metadata database: every XCom an operator or sensor returns and
every event a trigger yields is measured as Airflow serializes it (``airflow.sdk.serde`` then JSON, the bytes that
are stored) before it leaves the provider, and refused with a clear error past its bound.

:func:`bounded_xcom` is applied to every operator's ``execute`` and ``execute_complete`` by
:class:`~airflow_provider_openai_fusion.operators._base.OpenAIFusionBaseOperator` (and by the sensors' base), so
no operator can forget it; :func:`bounded_event` to every trigger event. Trigger events carry ids and small
summaries (the task re-reads the job when it resumes), so their bound is small.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_openai_fusion.exceptions import OutputTooLargeError

MAX_XCOM_BYTES = 32 * 1024 * 1024
"""The most bytes one XCom value may take once serialized."""
MAX_EVENT_BYTES = 64 * 1024
"""The most bytes one trigger event may take once serialized (ids and small summaries only)."""
_Method = TypeVar("_Method", bound=Callable[..., Any])


def serialized_size(value: Any) -> int:
    """
    The bytes ``value`` takes as Airflow stores it: its ``airflow.sdk.serde`` form as JSON. A value the C JSON encoder
    takes (what the API answers are made of) is measured by it directly, five times faster than serde's Python walk
    on 50,000 vectors (B3): the same bytes for dicts, lists and scalars, a few bytes fewer per tuple, which serde
    wraps. Anything else (dates, objects) goes through serde.

    :param value: an XCom value or a trigger event's payload.
    """
    try:
        return len(json.dumps(value).encode())
    except (TypeError, ValueError):
        from airflow.sdk.serde import serialize

        return len(json.dumps(serialize(value)).encode())


def bounded_xcom(value: Any, what: str, bound: int = MAX_XCOM_BYTES, has_output_path: bool = True) -> Any:
    """
    Return ``value`` if it fits in an XCom, else raise :class:`OutputTooLargeError` naming the bound.

    :param value: the task's return value.
    :param what: the task, for the message (``OpenAIEmbeddingsOperator 'embed'``).
    :param bound: the most serialized bytes accepted.
    :param has_output_path: whether the task can write its result to a file instead (the message says so).
    """
    if value is None:
        return value
    size = serialized_size(value)
    if size > bound:
        remedy = (
            "set output_path to write the result to a file (the XCom then holds its path), or ask for less"
            if has_output_path
            else "ask for less (fewer inputs, a lower max_output_tokens)"
        )
        raise OutputTooLargeError(
            f"{what} would return {size:,} bytes as its XCom, more than the {bound:,}-byte bound of an XCom here "
            f"(it is stored in Airflow's metadata database); {remedy}"
        )
    return value


def bounded_event(payload: dict[str, Any], trigger: str, bound: int = MAX_EVENT_BYTES) -> dict[str, Any]:
    """
    Return a trigger event's ``payload`` if it is small, else raise :class:`OutputTooLargeError`.

    :param payload: the event.
    :param trigger: the trigger's class name, for the message.
    :param bound: the most serialized bytes accepted.
    """
    size = serialized_size(payload)
    if size > bound:
        raise OutputTooLargeError(
            f"the event of {trigger} would be {size:,} bytes, more than the {bound:,}-byte bound of a trigger "
            "event (events carry ids and small summaries; the task reads the job when it resumes)"
        )
    return payload


def bounded_return(method: _Method) -> _Method:
    """
    Wrap an operator's ``execute`` (or ``execute_complete``) so that its return value is checked by
    :func:`bounded_xcom` before Airflow stores it.

    :param method: the method.
    """
    if getattr(method, "__bounded__", False):
        return method

    @functools.wraps(method)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = method(self, *args, **kwargs)
        what = f"{type(self).__name__} {getattr(self, 'task_id', '?')!r}"
        return bounded_xcom(value, what, has_output_path=hasattr(self, "output_path"))

    checked.__bounded__ = True  # type: ignore[attr-defined]
    return checked  # type: ignore[return-value]

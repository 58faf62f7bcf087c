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
from itertools import chain
from operator import itemgetter
from typing import Any, TypeVar

from airflow_provider_openai_fusion.exceptions import OutputTooLargeError

MAX_XCOM_BYTES = 32 * 1024 * 1024
"""The most bytes one XCom value may take once serialized."""
MAX_EVENT_BYTES = 64 * 1024
"""The most bytes one trigger event may take once serialized (ids and small summaries only)."""
MAX_FLOAT_CHARS = 24
"""The longest JSON form of a float: 17 significant digits, a sign, a point and ``e-308``."""
MAX_BOUND_LEVELS = 64
"""How deep :func:`json_size_bound` walks; a deeper value is measured exactly."""
_Method = TypeVar("_Method", bound=Callable[..., Any])
_SCALAR_CHARS: dict[type, int] = {float: MAX_FLOAT_CHARS, bool: len("false"), type(None): len("null")}


def _strings_size(texts: list[str]) -> int:
    """The exact JSON size of ``texts`` written one by one: escaping is per character, so one join measures all."""
    return len(json.dumps("".join(texts))) + 2 * len(texts) - 2


def _dicts(dicts: list[dict[Any, Any]]) -> tuple[int, list[list[Any]]] | None:
    """
    The JSON size of ``dicts`` without their values (braces, keys, separators), and their values: one list per
    key when all have the keys of the first (an API answer's items: each list then holds one type), else one list.
    ``None`` when a key is not text.
    """
    first = list(dicts[0])
    if set(map(len, dicts)) == {len(first)}:
        try:
            columns = [list(map(itemgetter(key), dicts)) for key in first]
        except KeyError:
            pass
        else:  # as many keys as the first and all of them: the same keys
            if set(map(type, first)) - {str}:
                return None
            return len(dicts) * (2 + _strings_size(first) + 4 * len(first)), columns
    keys = list(chain.from_iterable(dicts))
    if set(map(type, keys)) - {str}:
        return None
    return 2 * len(dicts) + _strings_size(keys) + 4 * len(keys), [list(chain.from_iterable(map(dict.values, dicts)))]


def json_size_bound(value: Any, limit: int, max_levels: int = MAX_BOUND_LEVELS) -> int | None:
    """
    An upper bound of ``len(json.dumps(value))`` found without encoding the floats, which are most of the cost of
    encoding an answer (800,000 of them in 50,000 vectors, B3): each float counts as :data:`MAX_FLOAT_CHARS`
    characters, each integer as many as the longest of its list, every text and key exactly. The value is walked
    one nesting level at a time, each level's items grouped by type (the items of a list of like dicts by key)
    and measured in C loops (``map``, ``join``), so the walk costs a small part of the encoding. It stops as soon
    as the bound passes ``limit``.

    :param value: a JSON-like value.
    :param limit: the bound that matters: past it, the exact size is needed anyway.
    :param max_levels: how deep to walk.
    :return: the bound; ``None`` when ``value`` holds anything but dicts with text keys, lists, tuples, text,
        numbers, booleans and ``None`` (exact types, no subclasses), or nests deeper than ``max_levels``.
    """
    total, groups = 0, [[value]]
    for _ in range(max_levels):
        if not groups:
            return total
        deeper: list[list[Any]] = []
        for group in groups:
            kinds = set(map(type, group))
            for kind in kinds:
                items: list[Any] = group if len(kinds) == 1 else [item for item in group if type(item) is kind]
                if kind in _SCALAR_CHARS:
                    total += _SCALAR_CHARS[kind] * len(items)
                elif kind is str:
                    total += _strings_size(items)
                elif kind is int:
                    try:
                        total += max(len(str(max(items))), len(str(min(items)))) * len(items)
                    except ValueError:  # more digits than Python converts: json.dumps refuses it too
                        return None
                elif kind is list or kind is tuple:
                    count = sum(map(len, items))
                    total += 2 * len(items) + 2 * count
                    if set(map(type, chain.from_iterable(items))) == {float}:  # vectors: nothing deeper
                        total += MAX_FLOAT_CHARS * count
                    elif count:
                        deeper.append(list(chain.from_iterable(items)))
                elif kind is dict:
                    found = _dicts(items)
                    if found is None:
                        return None
                    total += found[0]
                    deeper += found[1]
                else:
                    return None
                if total > limit:
                    return total
        groups = deeper
    return None


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
    Return ``value`` if it fits in an XCom, else raise :class:`OutputTooLargeError` naming the bound. A value
    whose :func:`json_size_bound` is within the bound fits without being encoded; any other is measured exactly
    (:func:`serialized_size`).

    :param value: the task's return value.
    :param what: the task, for the message (``OpenAIEmbeddingsOperator 'embed'``).
    :param bound: the most serialized bytes accepted.
    :param has_output_path: whether the task can write its result to a file instead (the message says so).
    """
    if value is None:
        return value
    fits = json_size_bound(value, bound)
    if fits is not None and fits <= bound:
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

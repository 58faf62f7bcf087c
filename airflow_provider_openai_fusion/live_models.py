"""
The ``shutdown_date`` a server publishes in ``GET /models``, read at most once per process, connection and day.

Pure Python (no Airflow, pydantic or httpx at import time): the caller passes the function that reads the list, so
that this module only decides when to read and what to keep. A read that fails or times out is logged once and
remembered for the day as "nothing published": the task goes on with the retirement table, delayed at most by
the read's own bound (:data:`READ_TIMEOUT`, one attempt, no retry).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from types import MappingProxyType

from airflow_provider_openai_fusion.model_lifecycle import shutdown_date_of

READ_TIMEOUT = 3.0
"""Seconds the one ``GET /models`` attempt may take in all before the task goes on without it."""

Dates = Mapping[str, "date | None"]
"""Model id → its published shutdown date (``None``: the server says none is announced)."""

_cache: dict[tuple[str, str, date], Dates | None] = {}
_locks: dict[tuple[str, str], threading.Lock] = {}
_guard = threading.Lock()


def dates_from(models: Iterable[object]) -> Dates | None:
    """
    The published dates of a ``GET /models`` list; ``None`` when no model object carries ``shutdown_date`` at all
    (a server that does not publish the field).

    :param models: the model objects.
    """
    objects = [model for model in models if isinstance(model, Mapping) and isinstance(model.get("id"), str)]
    if not any("shutdown_date" in model for model in objects):
        return None
    return MappingProxyType({str(model["id"]): shutdown_date_of(model) for model in objects})


def published_dates(
    conn_id: str,
    base_url: str,
    today: date,
    read: Callable[[], Iterable[object]],
    warn: Callable[[str], None],
) -> Dates | None:
    """
    The shutdown dates the connection's server publishes, read with ``read`` at most once per process,
    connection and day (threads of one process wait for the one read under way rather than start another).

    :param conn_id: the connection id.
    :param base_url: the connection's base URL (a changed URL is another server).
    :param today: the day (UTC) the cache entry is for.
    :param read: returns the model objects of ``GET /models``; may raise.
    :param warn: logs a line; called once when the read fails, not on later cache hits.
    :return: the dates, or ``None`` when the server published nothing or could not be read today.
    """
    server = (conn_id, base_url)
    with _guard:
        lock = _locks.setdefault(server, threading.Lock())
    with lock:
        key = (conn_id, base_url, today)
        if key in _cache:
            return _cache[key]
        try:
            dates = dates_from(read())
        except Exception as error:  # a failed read must never fail the task
            warn(
                f"Could not read shutdown dates from GET /models of connection {conn_id!r} "
                f"({type(error).__name__}: {error}); the provider's retirement table decides until tomorrow"
            )
            dates = None
        for stale in [old for old in _cache if old[:2] == server and old[2] != today]:
            del _cache[stale]
        _cache[key] = dates
        return dates


def forget() -> None:
    """Drop every cached read (a new day does so by itself; tests and long-lived processes may call it)."""
    with _guard:
        _cache.clear()

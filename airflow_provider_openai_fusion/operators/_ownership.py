"""
What a task instance created, so that a retry re-attaches only to that: the ids go to the task instance's
``task_state_store`` (Airflow 3.3+) the moment they exist; on Airflow 3.2 (no store) a retry falls back to
matching metadata, and then also requires the same request and a ``created_at`` at or after the DAG run's start.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# A requested value the API fills in itself: any value the object shows matches it.
AUTO = "auto"


def state_store(context: Mapping[str, Any]) -> Any | None:
    """
    The task instance's ``task_state_store`` (Airflow 3.3+), or ``None`` on older Airflow.

    :param context: the task's context.
    """
    return context.get("task_state_store")


def recorded(context: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """
    What an earlier try of this task instance recorded under ``key``; ``None`` when nothing (or no store).

    :param context: the task's context.
    :param key: the record's key.
    """
    store = state_store(context)
    value = store.get(key) if store is not None else None
    return dict(value) if isinstance(value, Mapping) else None


def record(context: Mapping[str, Any], key: str, value: Mapping[str, Any]) -> None:
    """
    Record ``value`` (plain JSON) under ``key`` for the later tries of this task instance; no-op without a store.

    :param context: the task's context.
    :param key: the record's key.
    :param value: what to keep.
    """
    store = state_store(context)
    if store is not None:
        store.set(key, dict(value))


def forget(context: Mapping[str, Any], key: str) -> None:
    """
    Remove the record under ``key``; no-op without a store.

    :param context: the task's context.
    :param key: the record's key.
    """
    store = state_store(context)
    if store is not None:
        store.delete(key)


def fingerprint(request: Any) -> str:
    """
    A short hash of a request, so a retry whose request changed does not re-attach to what the old one made.

    :param request: the request (plain JSON).
    """
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:32]


def run_start(context: Mapping[str, Any]) -> int | None:
    """
    The DAG run's start in whole Unix seconds (as ``created_at`` counts), or ``None`` when unknown.

    :param context: the task's context.
    """
    started = getattr(context.get("dag_run"), "start_date", None)
    return int(started.timestamp()) if started is not None else None


def created_since(found: Mapping[str, Any], start: int | None) -> bool:
    """
    Whether an object was created at or after ``start`` (an unknown start or ``created_at`` never matches).

    :param found: the API object.
    :param start: the DAG run's start (:func:`run_start`).
    """
    created = found.get("created_at")
    return start is not None and isinstance(created, int | float) and created >= start


def same_request(requested: Any, found: Any) -> bool:
    """
    Whether an object was made from ``requested``: every requested value is what the object shows (objects
    compared key by key, so fields the API adds do not count), except ``"auto"``, which the API resolves.

    :param requested: the value sent.
    :param found: the value the object shows.
    """
    if requested == AUTO:
        return True
    if isinstance(requested, Mapping):
        return isinstance(found, Mapping) and all(
            same_request(value, found.get(key)) for key, value in requested.items() if value is not None
        )
    return bool(requested == found)

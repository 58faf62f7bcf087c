"""Test doubles for the Responses operator: a task context with a task_state_store, and canned responses."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


class StateStore:
    """A dict-backed ``context["task_state_store"]``, shared across the tries of one task instance."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def context(store: StateStore | None = None, try_number: int = 1) -> dict[str, Any]:
    """A task context with a task instance and (unless ``store`` is missing) a task_state_store."""
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1, try_number=try_number)
    return {"ti": ti, "task_state_store": store} if store is not None else {"ti": ti}


def message(text: str, part_type: str = "output_text") -> dict[str, Any]:
    """An output message item with one part."""
    part = {"type": part_type, "refusal": text} if part_type == "refusal" else {"type": part_type, "text": text}
    return {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [part]}


def response(status: str = "completed", *outputs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A response object."""
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    body = {"id": "resp_1", "object": "response", "status": status, "output": list(outputs), "usage": usage}
    return {**body, **fields}

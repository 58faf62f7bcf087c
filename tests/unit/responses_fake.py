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


class FakeResponsesAPI:
    """
    A MockTransport handler for /responses: a create answers ``first`` (then ``statuses`` one per GET), cancel
    answers ``cancelled``; every request is recorded.

    :param statuses: the statuses a background response goes through after the create.
    :param final: the fields of the final response (output, error, incomplete_details).
    """

    def __init__(self, statuses: tuple[str, ...] = ("queued", "in_progress", "completed"), **final: Any) -> None:
        self.statuses = list(statuses)
        self.final = final or {"output": [message("hello")]}
        self.requests: list[Any] = []
        self.looks = 0

    def _current(self) -> dict[str, Any]:
        status = self.statuses[min(self.looks, len(self.statuses) - 1)]
        fields = self.final if status not in ("queued", "in_progress") else {}
        return response(status, **fields)

    def __call__(self, request: Any) -> Any:
        import httpx

        request.read()
        self.requests.append(request)
        path = request.url.path
        if path.endswith("/input_tokens"):
            return httpx.Response(200, json={"object": "response.input_tokens", "input_tokens": 42})
        if path.endswith("/cancel"):
            return httpx.Response(200, json=response("cancelled"))
        if request.method == "GET":
            self.looks += 1
        return httpx.Response(200, json=self._current())

    def calls(self, method: str, suffix: str = "/responses") -> list[Any]:
        """The requests of ``method`` whose path ends with ``suffix``."""
        return [r for r in self.requests if r.method == method and r.url.path.endswith(suffix)]

"""
A stateful Vector stores and Files API for the tests: stores (with metadata), their files (with attributes), file
batches that settle on their first look, uploads, deletions. It answers ``(method, path, body)`` with
``(status, payload)``, so a unit test's MockTransport and the reliability tests' fault server can both play it;
every request is recorded as ``"METHOD path"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

OWNER = {"managed_by": "airflow-provider-openai-fusion"}


@dataclass
class FakeVectorStores:
    """
    Stores and files; ``add_file`` plants a file attached by someone else (or by an earlier run).

    :param stores: store id → store object.
    :param files: file id → file object.
    :param store_files: store id → file id → vector-store file.
    :param calls: every request as ``"METHOD path"``.
    """

    stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    store_files: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)

    def add_store(self, store_id: str, name: str, metadata: dict[str, str] | None = None) -> None:
        """A store, with ``metadata`` (none: not created by the provider)."""
        store = {"id": store_id, "object": "vector_store", "name": name, "status": "completed"}
        self.stores[store_id] = {**store, "metadata": metadata or {}}
        self.store_files[store_id] = {}

    def add_file(self, store_id: str, file_id: str, attributes: dict[str, Any] | None = None) -> None:
        """A File attached to the store with ``attributes``."""
        self.files[file_id] = {"id": file_id, "object": "file", "bytes": 1, "purpose": "assistants"}
        store_file = {"id": file_id, "object": "vector_store.file", "status": "completed"}
        self.store_files[store_id][file_id] = {**store_file, "attributes": attributes or {}}

    def touched(self, file_id: str) -> list[str]:
        """The requests that named ``file_id`` in their path."""
        return [call for call in self.calls if call.split("/")[-1] == file_id]

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """The status and JSON payload of one request (``path`` without the ``/v1/`` prefix or query)."""
        self.calls.append(f"{method} {path}")
        parts = path.split("/")
        if (method, path) == ("POST", "files"):
            file_id = f"file-up{len(self.files) + 1}"
            content = body[body.index(b"\r\n\r\n", body.index(b'name="file"')) + 4 : body.rindex(b"\r\n--")]
            self.files[file_id] = {"id": file_id, "object": "file", "bytes": len(content), "purpose": "assistants"}
            return 200, self.files[file_id]
        if method == "GET" and parts[0] == "files":
            return (200, self.files[parts[1]]) if parts[1] in self.files else _missing(parts[1])
        if method == "DELETE" and parts[0] == "files":
            if self.files.pop(parts[1], None) is None:
                return _missing(parts[1])
            return 200, {"id": parts[1], "object": "file", "deleted": True}
        if (method, path) == ("GET", "vector_stores"):
            return 200, _page(list(self.stores.values()))
        if (method, path) == ("POST", "vector_stores"):
            request = json.loads(body)
            self.bodies.append(request)
            store_id = f"vs_new{len(self.stores) + 1}"
            self.add_store(store_id, request.get("name") or "", request.get("metadata"))
            return 200, self.stores[store_id]
        store = self.store_files.get(parts[1]) if len(parts) > 1 else None
        if store is None:
            return _missing(path)
        if parts[2:] == ["files"] and method == "GET":
            return 200, _page(list(store.values()))
        if parts[2] == "files" and method == "DELETE":
            if store.pop(parts[3], None) is None:
                return _missing(parts[3])
            return 200, {"id": parts[3], "object": "vector_store.file.deleted", "deleted": True}
        if parts[2:] == ["file_batches"] and method == "POST":
            request = json.loads(body)
            self.bodies.append(request)
            for entry in request["files"]:
                attached = {"id": entry["file_id"], "object": "vector_store.file", "status": "completed"}
                store[entry["file_id"]] = {**attached, "attributes": entry.get("attributes") or {}}
            return 200, self._batch(parts[1], len(request["files"]))
        if parts[2] == "file_batches" and method == "GET" and len(parts) == 4:
            return 200, self._batch(parts[1], 1)
        if parts[2] == "file_batches" and parts[-1] == "files":
            return 200, _page([])
        return _missing(path)

    @staticmethod
    def _batch(store_id: str, count: int) -> dict[str, Any]:
        counts = {"completed": count, "failed": 0, "in_progress": 0, "cancelled": 0, "total": count}
        batch = {"id": "vsfb_1", "object": "vector_store.files_batch", "vector_store_id": store_id}
        return {**batch, "status": "completed", "file_counts": counts}


def _page(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False}


def _missing(what: str) -> tuple[int, Any]:
    error = {"message": f"No such object: {what}", "type": "invalid_request_error", "param": None, "code": None}
    return 404, {"error": error}

"""A scripted Batch API for the unit tests: a MockTransport handler whose batches move one status per GET."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

PAGE_SIZE = 2
FLOW = ("validating", "in_progress", "finalizing", "completed")


def result_line(custom_id: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """One line of an output or error file, as the API writes it."""
    response = {"status_code": status, "request_id": f"req_{custom_id}", "body": body}
    return {"id": f"batch_req_{custom_id}", "custom_id": custom_id, "response": response, "error": None}


@dataclass
class FakeBatchAPI:
    """
    Files and batches. A batch goes through ``ending`` (one status per GET); on its last status it gets an output
    file answering each request with ``{"echo": <body>}`` (shuffled), except the custom ids in ``fail_ids`` (a 400 in
    the error file). With ``ending`` ending in ``expired``, only the first half of the requests have lines.

    :param ending: the statuses a batch goes through after ``validating``.
    :param fail_ids: custom ids answered with an error.
    :param usage: each batch's ``usage``.
    :param created_at: each new batch's ``created_at``.
    """

    ending: tuple[str, ...] = FLOW[1:]
    fail_ids: set[str] = field(default_factory=set)
    usage: dict[str, Any] = field(default_factory=lambda: {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5})
    created_at: int = 2_000_000_000
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        """The requests received with this method whose path ends with ``path``."""
        return [r for r in self.requests if r.method == method and r.url.path.endswith(path)]

    def add_batch(self, metadata: dict[str, str] | None, input_file_id: str, **fields: Any) -> dict[str, Any]:
        """A batch in ``validating`` (or the given fields)."""
        batch_id = f"batch_{len(self.batches) + 1}"
        batch = {"object": "batch", "id": batch_id, "endpoint": "/v1/chat/completions", "status": "validating"}
        batch.update({"input_file_id": input_file_id, "completion_window": "24h", "created_at": self.created_at})
        batch.update({"metadata": metadata, "request_counts": {"total": 0, "completed": 0, "failed": 0}, **fields})
        self.batches[batch_id] = batch
        return batch

    def _finish(self, batch: dict[str, Any]) -> None:
        lines = [json.loads(line) for line in self.files[batch["input_file_id"]].splitlines()]
        if batch["status"] == "expired":
            lines = lines[: len(lines) // 2]
        good = [result_line(x["custom_id"], {"echo": x["body"]}) for x in lines if x["custom_id"] not in self.fail_ids]
        error = {"message": "bad", "type": "invalid_request_error", "param": None, "code": "bad"}
        bad = [result_line(x["custom_id"], {"error": error}, 400) for x in lines if x["custom_id"] in self.fail_ids]
        for key, items in (("output_file_id", good), ("error_file_id", bad)):
            if items:
                random.Random(batch["id"]).shuffle(items)
                file_id = f"file-{key}-{batch['id']}"
                self.files[file_id] = "".join(json.dumps(item) + "\n" for item in items).encode()
                batch[key] = file_id
        batch["request_counts"] = {"total": len(lines), "completed": len(good), "failed": len(bad)}
        batch["usage"] = self.usage

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        path = request.url.path.split("/v1/", 1)[1]
        if request.method == "POST" and path == "files":
            file_id = f"file-in-{len(self.files) + 1}"
            content = request.content
            self.files[file_id] = content[content.index(b"\r\n\r\n", content.index(b'name="file"')) + 4 :]
            self.files[file_id] = self.files[file_id][: self.files[file_id].rindex(b"\r\n--")]
            return httpx.Response(200, json={"id": file_id, "object": "file", "purpose": "batch"})
        if path.startswith("files/") and path.endswith("/content"):
            return httpx.Response(200, content=self.files[path.split("/")[1]])
        if request.method == "GET" and path.startswith("files/"):
            file_id = path.split("/")[1]
            if file_id not in self.files:
                return httpx.Response(404, json={"error": {"message": "No such file", "type": "invalid_request_error"}})
            return httpx.Response(
                200, json={"id": file_id, "object": "file", "purpose": "batch", "bytes": len(self.files[file_id])}
            )
        if request.method == "POST" and path == "batches":
            body = json.loads(request.content)
            return httpx.Response(200, json=self.add_batch(body.get("metadata"), body["input_file_id"]))
        if request.method == "GET" and path == "batches":
            query = dict(parse_qsl(request.url.query.decode()))
            newest_first = list(self.batches.values())[::-1]
            ids = [batch["id"] for batch in newest_first]
            start = ids.index(query["after"]) + 1 if "after" in query else 0
            page = newest_first[start : start + PAGE_SIZE]
            return httpx.Response(200, json={"object": "list", "data": page, "has_more": start + PAGE_SIZE < len(ids)})
        batch = self.batches[path.split("/")[1]]
        if path.endswith("/cancel"):
            batch["status"] = "cancelling"
            return httpx.Response(200, json=batch)
        flow = ("validating", *self.ending)
        if batch["status"] == "cancelling":
            batch["status"] = "cancelled"
        elif batch["status"] in flow[:-1]:
            batch["status"] = flow[flow.index(batch["status"]) + 1]
            if batch["status"] in ("completed", "expired"):
                self._finish(batch)
            if batch["status"] == "failed":
                error = {"code": "model_not_found", "message": "No such model.", "param": "body.model", "line": 2}
                batch["errors"] = {"object": "list", "data": [error]}
        return httpx.Response(200, json=batch)

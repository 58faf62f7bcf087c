"""
Stand-in routes: /files.

Uploaded files live in ``State.files`` (the file objects) and ``State.contents`` (their bytes), where the
fine-tuning and batch routes read them (the batch routes also store their output and error files there).
Lists are newest first by default and page with ``after`` / ``limit``.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin import batches
from dev.standin.common import State, error, new_id, not_found, now, ok, request_id, state_of

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
JSONL_PURPOSES = ("batch", "fine-tune")
BATCH_EXPIRY_SECONDS = 30 * 24 * 3600


async def upload(request: Request) -> Response:
    form = await request.form()
    file, purpose = form.get("file"), form.get("purpose")
    if not isinstance(file, UploadFile):
        return error(400, "Missing file.", type_="invalid_request_error", param="file")
    if purpose not in PURPOSES:
        return error(400, f"Invalid purpose: {purpose!r}.", type_="invalid_request_error", param="purpose")
    filename = file.filename or "upload"
    if purpose in JSONL_PURPOSES and not filename.endswith(".jsonl"):
        return error(400, f"Invalid file format for {purpose}. Must be .jsonl", type_="invalid_request_error")
    return ok(store_file(state_of(request), filename, purpose, await file.read()))


def store_file(state: State, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
    """Keep an uploaded file (its object and bytes) and return its file object."""
    created = now()
    file_object = {
        "id": new_id("file-"),
        "object": "file",
        "bytes": len(content),
        "created_at": created,
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
    }
    if purpose == "batch":
        file_object["expires_at"] = created + BATCH_EXPIRY_SECONDS
    state.files[file_object["id"]] = file_object
    state.contents[file_object["id"]] = content
    return file_object


async def list_files(request: Request) -> Response:
    query = request.query_params
    files = [f for f in state_of(request).files.values() if query.get("purpose") in (None, f["purpose"])]
    if query.get("order", "desc") == "desc":
        files.reverse()
    after = query.get("after")
    if after:
        ids = [f["id"] for f in files]
        files = files[ids.index(after) + 1 :] if after in ids else []
    try:
        limit = int(query.get("limit", 10000))
    except ValueError:
        return error(400, "limit must be an integer", type_="invalid_request_error", param="limit")
    page = files[: max(1, limit)]
    return ok(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else "",
            "last_id": page[-1]["id"] if page else "",
            "has_more": len(files) > len(page),
        }
    )


async def retrieve(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    file_object = state_of(request).files.get(file_id)
    return ok(file_object) if file_object else not_found("file", file_id, "file_id")


async def content(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    state = state_of(request)
    blob = state.contents.get(file_id)
    if blob is None:
        return not_found("file", file_id, "file_id")
    if batches.flaky_output(state, file_id):
        return error(500, "The server had an error while processing your request.", type_="server_error")
    return Response(blob, media_type="application/octet-stream", headers={"x-request-id": request_id()})


async def delete(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    state = state_of(request)
    if state.files.pop(file_id, None) is None:
        return not_found("file", file_id, "file_id")
    state.contents.pop(file_id, None)
    return ok({"id": file_id, "object": "file", "deleted": True})


routes = [
    Route("/files", upload, methods=["POST"]),
    Route("/files", list_files, methods=["GET"]),
    Route("/files/{file_id}", retrieve, methods=["GET"]),
    Route("/files/{file_id}", delete, methods=["DELETE"]),
    Route("/files/{file_id}/content", content, methods=["GET"]),
]

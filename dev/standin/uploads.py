"""
Stand-in routes: /uploads (create, parts, complete, cancel).

Parts are kept in memory (the stand-in serves tests with small files). Completing checks that the parts are this
upload's, that their bytes add up to the size announced at creation and, when given, the MD5; the joined bytes
become an ordinary file of ``State.files``, as POST /files makes one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin.common import error, json_body, new_id, not_found, now, ok, state_of
from dev.standin.files import store_file

PURPOSES = ("assistants", "batch", "fine-tune", "vision")
MAX_BYTES = 8 * 1024**3
EXPIRY_SECONDS = 3600


def _invalid(message: str, param: str | None = None) -> Response:
    return error(400, message, type_="invalid_request_error", param=param)


def _pending(request: Request) -> dict[str, Any] | Response:
    upload_id = request.path_params["upload_id"]
    upload = state_of(request).uploads.get(upload_id)
    if upload is None:
        return not_found("upload", upload_id, "upload_id")
    if upload["status"] != "pending":
        return _invalid(f"Upload {upload_id} is {upload['status']}; only a pending upload can change.")
    return upload


async def create(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    if body.get("purpose") not in PURPOSES:
        return _invalid(f"Invalid purpose: {body.get('purpose')!r}.", "purpose")
    size = body.get("bytes")
    if not isinstance(size, int) or not 0 < size <= MAX_BYTES:
        return _invalid("bytes must be between 1 and 8 GB.", "bytes")
    created = now()
    upload = {
        "id": new_id("upload_"),
        "object": "upload",
        "bytes": size,
        "created_at": created,
        "expires_at": created + EXPIRY_SECONDS,
        "filename": str(body.get("filename")),
        "purpose": body["purpose"],
        "status": "pending",
    }
    state = state_of(request)
    state.uploads[upload["id"]] = upload
    state.upload_parts[upload["id"]] = {}
    return ok(upload)


async def add_part(request: Request) -> Response:
    upload = _pending(request)
    if isinstance(upload, Response):
        return upload
    data = (await request.form()).get("data")
    if not isinstance(data, UploadFile):
        return _invalid("Missing data.", "data")
    part = {"id": new_id("part_"), "object": "upload.part", "created_at": now(), "upload_id": upload["id"]}
    state_of(request).upload_parts[upload["id"]][part["id"]] = await data.read()
    return ok(part)


async def complete(request: Request) -> Response:
    upload = _pending(request)
    if isinstance(upload, Response):
        return upload
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    state = state_of(request)
    parts = state.upload_parts[upload["id"]]
    part_ids = body.get("part_ids") or []
    if unknown := [part_id for part_id in part_ids if part_id not in parts]:
        return _invalid(f"Part {unknown[0]} is not a part of upload {upload['id']}.", "part_ids")
    content = b"".join(parts[part_id] for part_id in part_ids)
    if len(content) != upload["bytes"]:
        return _invalid(f"The parts hold {len(content)} bytes; the upload announced {upload['bytes']}.", "part_ids")
    if "md5" in body and body["md5"] != hashlib.md5(content, usedforsecurity=False).hexdigest():
        return _invalid("The md5 of the parts does not match the md5 given.", "md5")
    upload["status"] = "completed"
    completed = {**upload, "file": store_file(state, upload["filename"], upload["purpose"], content)}
    state.upload_parts[upload["id"]] = {}
    return ok(completed)


async def cancel(request: Request) -> Response:
    upload = _pending(request)
    if isinstance(upload, Response):
        return upload
    upload["status"] = "cancelled"
    state_of(request).upload_parts[upload["id"]] = {}
    return ok(upload)


routes = [
    Route("/uploads", create, methods=["POST"]),
    Route("/uploads/{upload_id}/parts", add_part, methods=["POST"]),
    Route("/uploads/{upload_id}/complete", complete, methods=["POST"]),
    Route("/uploads/{upload_id}/cancel", cancel, methods=["POST"]),
]

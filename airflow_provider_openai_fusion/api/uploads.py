"""
The Uploads API: a file of up to 8 GB sent as parts of at most 64 MB each (in any order, several at once), then
completed with the part ids in file order; the completed upload holds an ordinary file object.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from airflow_provider_openai_fusion._http.request import FilePart, RequestSpec
from airflow_provider_openai_fusion.api._base import RequestModel, ResponseModel, segment

MB = 1024 * 1024
PART_BYTES = 64 * MB
MAX_UPLOAD_BYTES = 8 * 1024 * MB
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision")
_MIME_TYPES = {".jsonl": "application/jsonl", ".jsonlines": "application/jsonl", ".md": "text/markdown"}


class CreateUploadRequest(RequestModel):
    """The body of POST /uploads."""

    filename: Annotated[str, Field(min_length=1)]
    purpose: Literal["assistants", "batch", "fine-tune", "vision"]
    bytes: Annotated[int, Field(ge=1, le=MAX_UPLOAD_BYTES)]
    mime_type: Annotated[str, Field(min_length=1)]


class CompleteUploadRequest(RequestModel):
    """The body of POST /uploads/{upload_id}/complete."""

    part_ids: Annotated[list[str], Field(min_length=1)]
    md5: str | None = None


class Upload(ResponseModel):
    """An upload; once ``completed``, ``file`` is the file object."""

    id: str
    status: str
    file: dict[str, Any] | None = None


class UploadPart(ResponseModel):
    """One part of an upload."""

    id: str


def mime_type(path: Path) -> str:
    """
    The MIME type the Uploads API expects for ``path`` (``application/jsonl`` for JSON lines, else by extension).

    :param path: the local file.
    """
    suffix = path.suffix.lower()
    return _MIME_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def part_ranges(size: int, part_bytes: int) -> list[tuple[int, int]]:
    """
    The ``(offset, length)`` of each part of a ``size``-byte file, in file order.

    :param size: the file's size.
    :param part_bytes: the most bytes a part holds.
    """
    return [(offset, min(part_bytes, size - offset)) for offset in range(0, size, part_bytes)]


def create_upload(body: CreateUploadRequest) -> RequestSpec:
    """
    POST /uploads.

    :param body: the validated request.
    """
    return RequestSpec("POST", "uploads", json=body.model_dump(mode="json"), response=Upload)


def add_part(upload_id: str, path: Path, offset: int, length: int) -> RequestSpec:
    """
    POST /uploads/{upload_id}/parts: ``length`` bytes of ``path`` from ``offset`` as the ``data`` file part,
    streamed from disk and re-read from the range's start on each attempt.

    :param upload_id: the upload id.
    :param path: the local file.
    :param offset: where the part starts in the file.
    :param length: the part's size.
    """
    data = FilePart("data", path, offset=offset, length=length)
    return RequestSpec("POST", f"uploads/{segment(upload_id)}/parts", files=(data,), response=UploadPart)


def complete_upload(upload_id: str, part_ids: Sequence[str], md5: str | None) -> RequestSpec:
    """
    POST /uploads/{upload_id}/complete.

    :param upload_id: the upload id.
    :param part_ids: the part ids in file order.
    :param md5: the whole file's MD5 (hex), checked by the API against the bytes it received.
    """
    body = CompleteUploadRequest(part_ids=list(part_ids), md5=md5).model_dump(mode="json", exclude_none=True)
    return RequestSpec("POST", f"uploads/{segment(upload_id)}/complete", json=body, response=Upload)


def cancel_upload(upload_id: str) -> RequestSpec:
    """
    POST /uploads/{upload_id}/cancel.

    :param upload_id: the upload id.
    """
    return RequestSpec("POST", f"uploads/{segment(upload_id)}/cancel", response=Upload)

"""The Files API: list, upload, retrieve, download and delete files."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from airflow_provider_openai_fusion._http.request import FilePart, RequestSpec
from airflow_provider_openai_fusion.api._base import Deletion, RequestModel, ResponseModel, segment
from airflow_provider_openai_fusion.api.uploads import MAX_UPLOAD_BYTES

MB = 1024 * 1024
MAX_FILE_BYTES = 512 * MB  # above this, uploads go through the Uploads API (api/uploads.py)


class UploadFileFields(RequestModel):
    """The form fields of POST /files (the file itself is a file part)."""

    purpose: Literal["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]


class ListFilesQuery(RequestModel):
    """The query of GET /files, plus the operator's cap on how many files to return."""

    purpose: str | None = None
    limit: int | None = Field(default=None, ge=1)


class FileObject(ResponseModel):
    """An uploaded file."""

    id: str


def list_files(purpose: str | None = None) -> RequestSpec:
    """
    GET /files.

    :param purpose: only files of this purpose.
    """
    return RequestSpec("GET", "files", params={"purpose": purpose}, response=FileObject, listing=True)


def upload_file(file: Path, purpose: str) -> RequestSpec:
    """
    POST /files (multipart, streamed from the file; a retry re-sends it from its start).

    :param file: the local file.
    :param purpose: the file's purpose.
    """
    return RequestSpec("POST", "files", data={"purpose": purpose}, files=(FilePart("file", file),), response=FileObject)


def retrieve_file(file_id: str) -> RequestSpec:
    """
    GET /files/{file_id}.

    :param file_id: the file id.
    """
    return RequestSpec("GET", f"files/{segment(file_id)}", response=FileObject)


def retrieve_file_content(file_id: str) -> RequestSpec:
    """
    GET /files/{file_id}/content, to be streamed to a file.

    :param file_id: the file id.
    """
    return RequestSpec(
        "GET",
        f"files/{segment(file_id)}/content",
        headers={"Accept": "application/octet-stream"},
        max_bytes=MAX_UPLOAD_BYTES,
    )


def delete_file(file_id: str) -> RequestSpec:
    """
    DELETE /files/{file_id}.

    :param file_id: the file id.
    """
    return RequestSpec("DELETE", f"files/{segment(file_id)}", response=Deletion)

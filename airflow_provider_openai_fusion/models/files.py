"""Request models of the Files API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from airflow_provider_openai_fusion.models._base import RequestModel


class UploadFileFields(RequestModel):
    """The form fields of POST /files (the file itself is a file part)."""

    purpose: Literal["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]


class ListFilesQuery(RequestModel):
    """The query of GET /files, plus the operator's cap on how many files to return."""

    purpose: str | None = None
    limit: int | None = Field(default=None, ge=1)

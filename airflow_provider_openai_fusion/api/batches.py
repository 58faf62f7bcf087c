"""
The Batch API: create, retrieve, cancel and list batches, their schemas, and how to wait for one (its ``JobKind``).

A batch goes validating -> in_progress -> finalizing -> completed; it can also end ``failed`` (its input did not
pass validation: the batch's ``errors`` say which lines and why), ``expired`` (not done within the completion
window: the requests that ran are in the output file) or, after a cancel, cancelling -> ``cancelled``. The request
lines themselves (validation, custom ids, splitting at the API's limits) are :mod:`.batch_input`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from airflow_provider_openai_fusion import wait_defaults
from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion._waiting import JobKind
from airflow_provider_openai_fusion.api._base import Metadata, RequestModel, ResponseModel, segment
from airflow_provider_openai_fusion.exceptions import JobFailedError

ENDPOINTS = ("/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations")
COMPLETION_WINDOWS = ("24h",)
TERMINAL = ("completed", "failed", "expired", "cancelled")
LIST_PAGE_SIZE = 100
MAX_SHOWN_ERRORS = 5
MAX_RESULT_FILE_BYTES = 64 * 1024**3


class CreateBatchRequest(RequestModel):
    """The body of POST /batches."""

    input_file_id: Annotated[str, Field(min_length=1)]
    endpoint: Literal["/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations"]
    completion_window: Literal["24h"]
    metadata: Metadata | None = None
    output_expires_after: dict[str, Any] | None = None


class RequestCounts(ResponseModel):
    """How many requests of a batch ran, and how many of them failed."""

    total: int
    completed: int
    failed: int


class Batch(ResponseModel):
    """A batch; ``status`` is kept as text, so a status added later reaches the caller instead of failing."""

    id: str
    status: str
    endpoint: str | None = None
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int | None = None
    errors: dict[str, Any] | None = None
    request_counts: RequestCounts | None = None
    metadata: dict[str, str] | None = None


def create_batch(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /batches.

    :param body: the validated request body (:class:`CreateBatchRequest`).
    """
    return RequestSpec("POST", "batches", json=dict(body), response=Batch)


def retrieve_batch(batch_id: str) -> RequestSpec:
    """
    GET /batches/{batch_id}.

    :param batch_id: the batch id.
    """
    return RequestSpec("GET", f"batches/{segment(batch_id)}", response=Batch)


def cancel_batch(batch_id: str) -> RequestSpec:
    """
    POST /batches/{batch_id}/cancel: the batch goes ``cancelling``, then ``cancelled`` (with partial results).

    :param batch_id: the batch id.
    """
    return RequestSpec("POST", f"batches/{segment(batch_id)}/cancel", response=Batch)


def list_batches(after: str | None = None, limit: int | None = LIST_PAGE_SIZE) -> RequestSpec:
    """
    GET /batches: the organization's batches, newest first, paged backwards with ``after``.

    :param after: only batches older than this batch id.
    :param limit: the page size (1 to 100).
    """
    return RequestSpec("GET", "batches", params={"after": after, "limit": limit}, response=Batch, listing=True)


def result_file(file_id: str) -> RequestSpec:
    """
    GET /files/{file_id}/content of a batch's output or error file, to be streamed to disk (50,000 embeddings of
    1,536 dimensions are about 1.5 GB, past the 512 MB cap of an ordinary file download).

    :param file_id: the ``output_file_id`` or ``error_file_id``.
    """
    from airflow_provider_openai_fusion.api.files import retrieve_file_content

    return dataclasses.replace(retrieve_file_content(file_id), max_bytes=MAX_RESULT_FILE_BYTES)


def validation_errors(batch: Mapping[str, Any]) -> str:
    """
    The batch's validation errors as one line each (``line N: message (code, param)``), at most a few.

    :param batch: the batch object.
    """
    errors = batch.get("errors")
    data = errors.get("data") if isinstance(errors, Mapping) else None
    items = [item for item in data or [] if isinstance(item, Mapping)]
    lines = []
    for item in items[:MAX_SHOWN_ERRORS]:
        where = f"line {item['line']}: " if item.get("line") is not None else ""
        param = f", param {item['param']}" if item.get("param") else ""
        lines.append(f"{where}{item.get('message') or 'no message'} ({item.get('code')}{param})")
    if len(items) > MAX_SHOWN_ERRORS:
        lines.append(f"... and {len(items) - MAX_SHOWN_ERRORS} more")
    return "; ".join(lines)


def batch_failure(batch: Mapping[str, Any]) -> JobFailedError:
    """
    The error a batch that ended without its results fails the task with; ``failed`` names its validation errors.

    :param batch: the batch object, in status ``failed``, ``expired`` or ``cancelled``.
    """
    status = str(batch.get("status"))
    if status == "failed":
        error = {"code": "validation_failed", "message": validation_errors(batch) or "the input file was rejected"}
        return JobFailedError("Batch", str(batch.get("id")), status, error)
    if status == "expired":
        counts = batch.get("request_counts") or {}
        message = (
            f"not finished within its {batch.get('completion_window', '24h')} window "
            f"({counts.get('completed', '?')} of {counts.get('total', '?')} requests completed); "
            "on_expired='partial' keeps what completed"
        )
        return JobFailedError("Batch", str(batch.get("id")), status, {"code": "expired", "message": message})
    return JobFailedError("Batch", str(batch.get("id")), status)


class Batches(JobKind):
    """Batches: one look is one GET of the batch; the request counts are logged as progress."""

    noun = "batch"
    terminal = TERMINAL
    default_timeout = wait_defaults.BATCH_TIMEOUT

    def retrieve(self, job_id: str) -> RequestSpec:
        return retrieve_batch(job_id)

    def cancel(self, job_id: str) -> RequestSpec:
        return cancel_batch(job_id)

    def look(self, job_id: str, cursor: Any) -> Any:
        batch = yield retrieve_batch(job_id)
        counts = batch.get("request_counts") or {}
        progress = (counts.get("completed"), counts.get("failed"), counts.get("total"))
        lines = []
        if counts and list(progress) != cursor:
            lines.append(("info", f"{progress[0]} completed, {progress[1]} failed of {progress[2]} requests"))
        return batch, lines, list(progress) if counts else cursor

    def outcome(self, job: Mapping[str, Any], on_cancelled: str) -> Any:
        from airflow.sdk.exceptions import AirflowSkipException

        if job["status"] == "completed":
            return dict(job)
        if job["status"] == "cancelled" and on_cancelled == "skip":
            raise AirflowSkipException(f"Batch {job.get('id')} was cancelled")
        raise batch_failure(job)


BATCHES = Batches()

"""
Every API call the provider makes, as a :class:`~airflow_provider_openai_fusion._core.RequestSpec` builder.

Both the sync and the async hook methods use these, so the two never drift apart. Path parameters are
percent-encoded here, so an id cannot change the path it is sent to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from airflow_provider_openai_fusion._core import FilePart, RequestSpec


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def list_models() -> RequestSpec:
    """GET /models."""
    return RequestSpec("GET", "models", response="Model", listing=True)


def retrieve_model(model: str) -> RequestSpec:
    """GET /models/{model}."""
    return RequestSpec("GET", f"models/{_segment(model)}", response="Model")


def delete_model(model: str) -> RequestSpec:
    """DELETE /models/{model}: delete a fine-tuned model."""
    return RequestSpec("DELETE", f"models/{_segment(model)}", response="Deletion")


def create_completion(body: Mapping[str, Any]) -> RequestSpec:
    """POST /completions (legacy, still served)."""
    return RequestSpec("POST", "completions", json=dict(body), response="Completion")


def create_chat_completion(body: Mapping[str, Any]) -> RequestSpec:
    """POST /chat/completions."""
    return RequestSpec("POST", "chat/completions", json=dict(body), response="ChatCompletion")


def create_moderation(body: Mapping[str, Any]) -> RequestSpec:
    """POST /moderations."""
    return RequestSpec("POST", "moderations", json=dict(body), response="Moderation")


def create_embeddings(body: Mapping[str, Any]) -> RequestSpec:
    """POST /embeddings."""
    return RequestSpec("POST", "embeddings", json=dict(body))


def create_image(body: Mapping[str, Any]) -> RequestSpec:
    """POST /images/generations."""
    return RequestSpec("POST", "images/generations", json=dict(body))


def _form(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value if isinstance(value, str | list) else str(value)
        for name, value in fields.items()
        if value is not None
    }


def edit_image(fields: Mapping[str, Any], images: Sequence[FilePart], mask: FilePart | None) -> RequestSpec:
    """POST /images/edits (multipart)."""
    return RequestSpec("POST", "images/edits", data=_form(fields), files=(*images, *((mask,) if mask else ())))


def create_image_variation(fields: Mapping[str, Any], image: FilePart) -> RequestSpec:
    """POST /images/variations (multipart)."""
    return RequestSpec("POST", "images/variations", data=_form(fields), files=(image,))


def audio(operation: str, fields: Mapping[str, Any], file: FilePart) -> RequestSpec:
    """POST /audio/transcriptions or /audio/translations (multipart)."""
    path = {"transcribe": "audio/transcriptions", "translate": "audio/translations"}[operation]
    return RequestSpec("POST", path, data=_form(fields), files=(file,))


def list_files(params: Mapping[str, Any] | None = None) -> RequestSpec:
    """GET /files."""
    return RequestSpec("GET", "files", params=params, response="FileObject", listing=True)


def upload_file(file: Path, purpose: str) -> RequestSpec:
    """POST /files (multipart, streamed from the file)."""
    return RequestSpec(
        "POST", "files", data={"purpose": purpose}, files=(FilePart("file", file),), response="FileObject"
    )


def retrieve_file(file_id: str) -> RequestSpec:
    """GET /files/{file_id}."""
    return RequestSpec("GET", f"files/{_segment(file_id)}", response="FileObject")


def retrieve_file_content(file_id: str) -> RequestSpec:
    """GET /files/{file_id}/content."""
    return RequestSpec("GET", f"files/{_segment(file_id)}/content", headers={"Accept": "application/octet-stream"})


def delete_file(file_id: str) -> RequestSpec:
    """DELETE /files/{file_id}."""
    return RequestSpec("DELETE", f"files/{_segment(file_id)}", response="Deletion")


def create_fine_tuning_job(body: Mapping[str, Any]) -> RequestSpec:
    """POST /fine_tuning/jobs."""
    return RequestSpec("POST", "fine_tuning/jobs", json=dict(body), response="FineTuningJob")


def list_fine_tuning_jobs(params: Mapping[str, Any] | None = None) -> RequestSpec:
    """GET /fine_tuning/jobs (``metadata[k]=v`` filters allowed in ``params``)."""
    return RequestSpec("GET", "fine_tuning/jobs", params=params, response="FineTuningJob", listing=True)


def retrieve_fine_tuning_job(job_id: str) -> RequestSpec:
    """GET /fine_tuning/jobs/{job_id}."""
    return RequestSpec("GET", f"fine_tuning/jobs/{_segment(job_id)}", response="FineTuningJob")


def cancel_fine_tuning_job(job_id: str) -> RequestSpec:
    """POST /fine_tuning/jobs/{job_id}/cancel."""
    return RequestSpec("POST", f"fine_tuning/jobs/{_segment(job_id)}/cancel", response="FineTuningJob")


def list_fine_tuning_events(job_id: str, params: Mapping[str, Any] | None = None) -> RequestSpec:
    """GET /fine_tuning/jobs/{job_id}/events (newest first)."""
    return RequestSpec(
        "GET",
        f"fine_tuning/jobs/{_segment(job_id)}/events",
        params=params,
        response="FineTuningEvent",
        listing=True,
    )


def next_page(spec: RequestSpec, page: Mapping[str, Any], collected: int, limit: int | None) -> RequestSpec | None:
    """
    The request for the page after ``page``, or ``None`` when the list is complete.

    :param spec: the request that fetched ``page``.
    :param page: a list answer (``data``, ``has_more``, optionally ``last_id``).
    :param collected: how many items were collected so far.
    :param limit: stop after this many items; ``None`` for all.
    """
    data = page.get("data") or []
    if not page.get("has_more") or not data or (limit is not None and collected >= limit):
        return None
    last_id = page.get("last_id") or data[-1].get("id")
    if not last_id:
        return None
    return dataclasses.replace(spec, params={**(spec.params or {}), "after": last_id})

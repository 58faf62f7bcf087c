"""The Moderations API: POST /moderations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.api._base import ModelId, RequestModel, ResponseModel


class ModerationRequest(RequestModel):
    """POST /moderations: text, a list of texts, or a list of content parts (text and image_url)."""

    input: str | Annotated[list[str], Field(min_length=1)] | Annotated[list[dict[str, Any]], Field(min_length=1)]
    model: ModelId | None = None


class ModerationResult(ResponseModel):
    """The verdict on one input."""

    flagged: bool


class Moderation(ResponseModel):
    """The answer of POST /moderations."""

    results: list[ModerationResult]


def create_moderation(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /moderations.

    :param body: the validated request body.
    """
    return RequestSpec("POST", "moderations", json=dict(body), response=Moderation)

"""
Response models: only the fields the provider relies on, checked on every JSON answer the hook returns.

Unknown fields are kept (``extra="allow"``), so what the API adds later still reaches the XCom; a missing or
mistyped field the provider relies on is an ``APIResponseValidationError`` naming it, instead of a ``KeyError``
somewhere later.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from airflow_provider_openai_fusion.exceptions import APIResponseValidationError
from airflow_provider_openai_fusion.models._base import ResponseModel


class Model(ResponseModel):
    """A model object."""

    id: str


class Deletion(ResponseModel):
    """The answer of a DELETE: a model or a file."""

    id: str
    deleted: bool


class ChatChoice(ResponseModel):
    """One choice of a chat completion."""

    message: dict[str, Any]
    finish_reason: str | None = None


class ChatCompletion(ResponseModel):
    """The answer of POST /chat/completions."""

    choices: list[ChatChoice]
    usage: dict[str, Any] | None = None


class CompletionChoice(ResponseModel):
    """One choice of a (legacy) completion."""

    text: str
    finish_reason: str | None = None


class Completion(ResponseModel):
    """The answer of POST /completions."""

    choices: list[CompletionChoice]
    usage: dict[str, Any] | None = None


class ModerationResult(ResponseModel):
    """The verdict on one input."""

    flagged: bool


class Moderation(ResponseModel):
    """The answer of POST /moderations."""

    results: list[ModerationResult]


class FileObject(ResponseModel):
    """An uploaded file."""

    id: str


class FineTuningJob(ResponseModel):
    """A fine-tuning job."""

    id: str
    status: Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
    fine_tuned_model: str | None = None
    error: dict[str, Any] | None = None


class FineTuningEvent(ResponseModel):
    """One event of a fine-tuning job."""

    id: str
    level: str | None = None
    message: str | None = None


class Page(ResponseModel):
    """A page of a list answer; its items are checked with the item model of the call."""

    data: list[dict[str, Any]]
    has_more: bool | None = None


def check_response(payload: Any, model_name: str, *, listing: bool, what: str) -> None:
    """
    Check ``payload`` against the model named ``model_name`` (each item of the page, with ``listing``).

    :param payload: the decoded JSON answer.
    :param model_name: the name of a model of this module, e.g. ``FineTuningJob``.
    :param listing: the answer is a list page whose items are instances of the model.
    :param what: the call, e.g. ``GET /files``, for the error.
    """
    model: type[BaseModel] = globals()[model_name]
    try:
        items = Page.model_validate(payload).data if listing else [payload]
        for item in items:
            model.model_validate(item)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "the body"
        raise APIResponseValidationError(
            f"the answer to {what} is not what the API promises: {field}: {error['msg']}"
        ) from None

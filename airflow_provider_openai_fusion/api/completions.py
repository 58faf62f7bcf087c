"""The (legacy) Completions API: POST /completions, still served by OpenAI and by OpenAI-compatible servers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.api._base import (
    ModelId,
    NoStream,
    Penalty,
    RequestModel,
    ResponseModel,
    Stop,
    Temperature,
    TopP,
)


class CompletionRequest(RequestModel):
    """POST /completions (legacy, still served by OpenAI and by OpenAI-compatible servers)."""

    model: ModelId
    prompt: (
        str
        | list[str]
        | Annotated[list[int], Field(min_length=1)]
        | Annotated[list[Annotated[list[int], Field(min_length=1)]], Field(min_length=1)]
    )
    best_of: Annotated[int, Field(ge=0, le=20)] | None = None
    echo: bool | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, int] | None = None
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    max_tokens: Annotated[int, Field(ge=0)] | None = None
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    presence_penalty: Penalty | None = None
    seed: int | None = None
    stop: Stop | None = None
    stream: NoStream | None = None
    stream_options: dict[str, Any] | None = None
    suffix: str | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    user: str | None = None


class CompletionChoice(ResponseModel):
    """One choice of a (legacy) completion."""

    text: str
    finish_reason: str | None = None


class Completion(ResponseModel):
    """The answer of POST /completions."""

    choices: list[CompletionChoice]
    usage: dict[str, Any] | None = None


def create_completion(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /completions.

    :param body: the validated request body.
    """
    return RequestSpec("POST", "completions", json=dict(body), response=Completion)

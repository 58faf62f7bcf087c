"""The Chat Completions API: POST /chat/completions (Fusion's "Create a chat completion" and "Create an edit")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

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

NAME_PATTERN = r"^[A-Za-z0-9_]{1,64}$"


class ChatMessage(RequestModel):
    """
    One message of a chat: the fields the API accepts for every role, and the rules of each role.

    ``content`` is text or a list of content parts (``{"type": "text", "text": ...}``, images, ...).
    """

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | Annotated[list[dict[str, Any]], Field(min_length=1)] | None = None
    name: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    function_call: dict[str, Any] | None = None
    refusal: str | None = None
    audio: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _role_rules(self) -> ChatMessage:
        if self.role in ("system", "developer", "user", "tool") and self.content is None:
            raise ValueError(f"a '{self.role}' message needs 'content'")
        if self.role == "assistant" and self.content is None and not (self.tool_calls or self.function_call):
            raise ValueError("an 'assistant' message needs 'content', 'tool_calls' or 'function_call'")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a 'tool' message needs 'tool_call_id'")
        if self.role == "function" and not self.name:
            raise ValueError("a 'function' message needs 'name'")
        assistant_only = {"tool_calls": self.tool_calls, "function_call": self.function_call, "refusal": self.refusal}
        if self.role != "assistant" and (misplaced := [k for k, v in assistant_only.items() if v is not None]):
            raise ValueError(f"'{misplaced[0]}' is only allowed in 'assistant' messages")
        if self.role in ("tool",) and self.name is not None:
            raise ValueError("a 'tool' message has no 'name'; it is matched by 'tool_call_id'")
        return self


class ChatCompletionRequest(RequestModel):
    """POST /chat/completions."""

    model: ModelId
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    audio: dict[str, Any] | None = None
    frequency_penalty: Penalty | None = None
    function_call: str | dict[str, Any] | None = None
    functions: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=128)] | None = None
    logit_bias: dict[str, int] | None = None
    logprobs: bool | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    metadata: dict[str, str] | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    parallel_tool_calls: bool | None = None
    prediction: dict[str, Any] | None = None
    presence_penalty: Penalty | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    response_format: dict[str, Any] | None = None
    safety_identifier: Annotated[str, Field(max_length=64)] | None = None
    seed: int | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    stop: Stop | None = None
    store: bool | None = None
    stream: NoStream | None = None
    stream_options: dict[str, Any] | None = None
    temperature: Temperature | None = None
    tool_choice: str | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    top_p: TopP | None = None
    user: str | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    web_search_options: dict[str, Any] | None = None


class ChatChoice(ResponseModel):
    """One choice of a chat completion."""

    message: dict[str, Any]
    finish_reason: str | None = None


class ChatCompletion(ResponseModel):
    """The answer of POST /chat/completions."""

    choices: list[ChatChoice]
    usage: dict[str, Any] | None = None


def create_chat_completion(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /chat/completions.

    :param body: the validated request body.
    """
    return RequestSpec("POST", "chat/completions", json=dict(body), response=ChatCompletion)

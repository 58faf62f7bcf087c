"""
The Responses API: POST /responses, GET /responses/{id}, POST /responses/{id}/cancel, POST
/responses/input_tokens; how to wait for a background response (its ``JobKind``); and what to make of an answer
(``output_text``, refusals, structured output checked against the requested ``text_format``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationError, field_validator

from airflow_provider_openai_fusion import wait_defaults
from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion._waiting import JobKind
from airflow_provider_openai_fusion.api._base import (
    Metadata,
    ModelId,
    NoStream,
    RequestModel,
    ResponseModel,
    Temperature,
    TopP,
    segment,
)
from airflow_provider_openai_fusion.api._structured import StructuredFormat
from airflow_provider_openai_fusion.exceptions import JobFailedError, ResponseRefusedError, StructuredOutputError

MIN_OUTPUT_TOKENS = 16
ACTIVE = ("queued", "in_progress")
TERMINAL = ("completed", "incomplete", "failed", "cancelled")
# Tools whose calls the caller must run and answer: an operator cannot, so they are refused.
CLIENT_TOOLS = ("function", "custom", "computer_use_preview", "computer", "local_shell", "shell", "apply_patch")
# The fields of a create request that POST /responses/input_tokens also takes.
COUNTED_FIELDS: tuple[str, ...] = ("model", "input", "previous_response_id", "tools", "text", "reasoning", "truncation")
COUNTED_FIELDS += ("instructions", "conversation", "tool_choice", "parallel_tool_calls")


def _input_items(value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("is empty")
        return value
    if not value:
        raise ValueError("is an empty list")
    for number, item in enumerate(value):
        if "role" not in item and "type" not in item:
            raise ValueError(f"item {number} has neither 'role' nor 'type'")
        if "role" in item and item.get("content") in (None, "", []):
            raise ValueError(f"item {number} (role {item['role']!r}) has no 'content'")
    return value


Input = Annotated[str | list[dict[str, Any]], AfterValidator(_input_items)]


class CreateResponseRequest(RequestModel):
    """The body of POST /responses."""

    model: ModelId
    input: Input
    instructions: str | None = None
    text: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    previous_response_id: Annotated[str, Field(min_length=1)] | None = None
    conversation: str | dict[str, Any] | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    max_output_tokens: Annotated[int, Field(ge=MIN_OUTPUT_TOKENS)] | None = None
    max_tool_calls: Annotated[int, Field(ge=1)] | None = None
    metadata: Metadata | None = None
    background: bool | None = None
    store: bool | None = None
    include: list[str] | None = None
    parallel_tool_calls: bool | None = None
    reasoning: dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    prompt: dict[str, Any] | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    safety_identifier: Annotated[str, Field(max_length=64)] | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    context_management: list[dict[str, Any]] | None = None
    stream: NoStream | None = None
    stream_options: dict[str, Any] | None = None
    user: str | None = None

    @field_validator("tools")
    @classmethod
    def _no_client_tools(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for tool in value or []:
            if tool.get("type") in CLIENT_TOOLS:
                raise ValueError(
                    f"a {tool.get('type')!r} tool needs the caller to run each call and send the result back, "
                    "which an operator cannot do; use the hosted tools (web_search, file_search, "
                    "code_interpreter, mcp, image_generation), or run the loop in a @task with OpenAIFusionHook "
                    "and responses.create_response"
                )
        return value


class Response(ResponseModel):
    """A model response; ``status`` and the output items are kept as they came."""

    id: str
    status: str | None = None
    output: list[dict[str, Any]] = []
    error: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None


class InputTokens(ResponseModel):
    """The answer of POST /responses/input_tokens."""

    input_tokens: int


TOOL_SECRETS = ("authorization", "headers")
"""Fields of a tool that carry credentials (an MCP server's ``authorization`` token and ``headers``)."""


def without_tool_secrets(response: Mapping[str, Any]) -> dict[str, Any]:
    """
    The response with its ``tools`` stripped of :data:`TOOL_SECRETS`: OpenAI does not echo an MCP tool's token,
    but a compatible server may, and the response becomes an XCom.

    :param response: a response object.
    """
    tools = response.get("tools")
    if not isinstance(tools, list):
        return dict(response)
    kept = [
        {key: value for key, value in tool.items() if key not in TOOL_SECRETS} if isinstance(tool, Mapping) else tool
        for tool in tools
    ]
    return {**response, "tools": kept}


def create_response(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /responses.

    :param body: the validated request body.
    """
    return RequestSpec("POST", "responses", json=dict(body), response=Response)


def retrieve_response(response_id: str) -> RequestSpec:
    """
    GET /responses/{response_id}.

    :param response_id: the response id.
    """
    return RequestSpec("GET", f"responses/{segment(response_id)}", response=Response)


def cancel_response(response_id: str) -> RequestSpec:
    """
    POST /responses/{response_id}/cancel (background responses only).

    :param response_id: the response id.
    """
    return RequestSpec("POST", f"responses/{segment(response_id)}/cancel", response=Response)


def count_input_tokens(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /responses/input_tokens, for the fields of a create request that make up the input.

    :param body: a create request body; the fields the count does not take are left out.
    """
    counted = {key: body[key] for key in COUNTED_FIELDS if body.get(key) is not None}
    return RequestSpec("POST", "responses/input_tokens", json=counted, response=InputTokens)


class BackgroundResponses(JobKind):
    """
    Background responses: ``queued`` → ``in_progress`` → ``completed``, ``incomplete``, ``failed`` or
    ``cancelled``. ``completed`` is the result; ``incomplete`` fails with OpenAI's reason unless allowed;
    ``failed`` and ``cancelled`` fail with the response's error.

    :param allow_incomplete: return an ``incomplete`` response instead of failing.
    """

    noun = "response"
    terminal = TERMINAL
    default_timeout = wait_defaults.BACKGROUND_RESPONSE_TIMEOUT

    def __init__(self, allow_incomplete: bool = False) -> None:
        self.allow_incomplete = allow_incomplete

    def retrieve(self, job_id: str) -> RequestSpec:
        return retrieve_response(job_id)

    def cancel(self, job_id: str) -> RequestSpec:
        return cancel_response(job_id)

    def outcome(self, job: Mapping[str, Any], on_cancelled: str) -> Any:
        status, response_id = job["status"], str(job.get("id"))
        if status == "completed" or (status == "incomplete" and self.allow_incomplete):
            return dict(job)
        if status == "incomplete":
            reason = (job.get("incomplete_details") or {}).get("reason") or "no reason given"
            message = f"stopped early ({reason}); set allow_incomplete=True to keep the partial answer"
            raise JobFailedError("Response", response_id, status, {"code": reason, "message": message})
        raise JobFailedError("Response", response_id, status, job.get("error"))


RESPONSES = BackgroundResponses()


def output_text(response: Mapping[str, Any]) -> str:
    """
    Every ``output_text`` part of the response's output messages, joined (as the API's SDKs join them).

    :param response: the response.
    """
    return "".join(
        str(part.get("text", ""))
        for item in response.get("output") or []
        if isinstance(item, Mapping) and item.get("type") == "message"
        for part in item.get("content") or []
        if isinstance(part, Mapping) and part.get("type") == "output_text"
    )


MAX_REPEATED_TEXT = 64 * 1024
"""The longest ``output_text`` an XCom repeats beside the response's output (which holds the same text)."""


def short_output_text(response: Mapping[str, Any], log: Any) -> str | None:
    """
    :func:`output_text` for the XCom, or ``None`` when it is longer than :data:`MAX_REPEATED_TEXT` characters:
    the text is in the response's ``output`` already, and repeating a long one would double the XCom (logged).

    :param response: the response.
    :param log: where to say that the text was not repeated.
    """
    text = output_text(response)
    if len(text) <= MAX_REPEATED_TEXT:
        return text
    log.info(
        "output_text left out of the XCom: the answer's %d characters are in output[].content[].text (the XCom "
        "repeats at most %d)",
        len(text),
        MAX_REPEATED_TEXT,
    )
    return None


def refusal(response: Mapping[str, Any]) -> str | None:
    """
    The model's refusal text, when an output message holds a ``refusal`` part; else ``None``.

    :param response: the response.
    """
    refusals = [
        str(part.get("refusal", ""))
        for item in response.get("output") or []
        if isinstance(item, Mapping) and item.get("type") == "message"
        for part in item.get("content") or []
        if isinstance(part, Mapping) and part.get("type") == "refusal"
    ]
    return " ".join(refusals) if refusals else None


def check_refusal(response: Mapping[str, Any]) -> None:
    """
    Fail with :class:`ResponseRefusedError` when the model refused.

    :param response: the response.
    """
    if (text := refusal(response)) is not None:
        raise ResponseRefusedError(str(response.get("id")), text or "no reason given")


def parse_output(response: Mapping[str, Any], structured: StructuredFormat) -> Any:
    """
    The answer as the JSON object ``structured`` asks for, validated; a mismatch fails naming the field.

    :param response: the response.
    :param structured: the requested format.
    """
    response_id = str(response.get("id"))
    text = output_text(response)
    if isinstance(structured.source, type) and issubclass(structured.source, BaseModel):
        try:
            return structured.source.model_validate_json(text).model_dump(mode="json")
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or "(root)"
            raise StructuredOutputError(response_id, field, error["msg"]) from None
    try:
        value = json.loads(text)
    except ValueError:
        raise StructuredOutputError(response_id, "(root)", f"not JSON: {text[:80]!r}") from None
    import jsonschema

    validator = jsonschema.Draft202012Validator(structured.schema)
    if error := jsonschema.exceptions.best_match(validator.iter_errors(value)):
        field = ".".join(str(part) for part in error.absolute_path) or "(root)"
        raise StructuredOutputError(response_id, field, error.message)
    return value

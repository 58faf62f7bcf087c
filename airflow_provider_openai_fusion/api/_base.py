"""
What every API area shares: the base schemas, the validation that names the faulty argument, the check of an
answer against its response schema, and the one set of argument coercion helpers every operator and sensor uses.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from airflow_provider_openai_fusion._http.request import FilePart
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError

M = TypeVar("M", bound=BaseModel)
MAX_ID_CHARS = 256
_ID = re.compile(r"[A-Za-z0-9\-._~:/]+")
MAX_STATUS_CHARS = 64
_STATUS = re.compile(rf"[\x20-\x7e]{{0,{MAX_STATUS_CHARS}}}")

ModelId = Annotated[str, Field(min_length=1)]
Temperature = Annotated[float, Field(ge=0, le=2)]
Penalty = Annotated[float, Field(ge=-2, le=2)]
TopP = Annotated[float, Field(ge=0, le=1)]
Stop = str | Annotated[list[str], Field(min_length=1, max_length=4)]


def _no_stream(value: bool | None) -> bool | None:
    if value:
        raise ValueError("streaming is not supported: the operator returns the whole response")
    return value


NoStream = Annotated[bool, AfterValidator(_no_stream)]

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


def _metadata_limits(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_METADATA_PAIRS:
        raise ValueError(f"at most {MAX_METADATA_PAIRS} key-value pairs, got {len(value)}")
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY:
            raise ValueError(f"key {key[:20]!r}... is longer than {MAX_METADATA_KEY} characters")
        if len(item) > MAX_METADATA_VALUE:
            raise ValueError(f"the value of {key!r} is longer than {MAX_METADATA_VALUE} characters")
    return value


Metadata = Annotated[dict[str, str], AfterValidator(_metadata_limits)]
"""OpenAI's ``metadata``: at most 16 pairs, keys up to 64 characters, values up to 512."""


class RequestModel(BaseModel):
    """A request body: unknown fields are errors, so a typo cannot pass silently."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    """
    A response body: fields the API adds later are kept, and enum-like fields such as ``status`` are plain text,
    so a status the API adds later (``paused``) reaches the caller instead of failing the answer. A ``status``
    that is not short printable text (control characters, ANSI escapes, line breaks that would forge task log
    lines) fails the answer; it is never logged.
    """

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _printable_status(cls, data: Any) -> Any:
        status = data.get("status") if type(data) is dict or isinstance(data, Mapping) else None
        if isinstance(status, str) and not _STATUS.fullmatch(status):
            raise ValueError(f"'status' must be printable ASCII text of at most {MAX_STATUS_CHARS} characters")
        return data


class Page(ResponseModel):
    """A page of a list answer; its items are checked with the item schema of the call."""

    data: list[dict[str, Any]]
    has_more: bool | None = None


class Deletion(ResponseModel):
    """The answer of a DELETE (a model, a file, a vector store)."""

    id: str
    deleted: bool


def segment(value: str) -> str:
    """
    Percent-encode one path parameter, so that an id cannot change the path it is sent to.

    :param value: the id.
    """
    return quote(str(value), safe="")


def file_part(field: str, path: Path, content_type: str = "application/octet-stream") -> FilePart:
    """
    A local file as a multipart file part, streamed from disk and re-opened for each attempt.

    :param field: the form field name.
    :param path: the local file.
    :param content_type: its content type.
    """
    return FilePart(field, path, content_type)


def check_response(payload: Any, schema: type[BaseModel], *, listing: bool, what: str) -> None:
    """
    Check ``payload`` against ``schema`` (each item of the page, with ``listing``).

    :param payload: the decoded JSON answer.
    :param schema: the response schema.
    :param listing: the answer is a list page whose items are instances of the schema.
    :param what: the call, e.g. ``GET /files``, for the error.
    """
    try:
        items = Page.model_validate(payload).data if listing else [payload]
        for item in items:
            schema.model_validate(item)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "the body"
        raise APIResponseValidationError(
            f"the answer to {what} is not what the API promises: {field}: {error['msg']}"
        ) from None


def _describe(error: Mapping[str, Any]) -> str:
    inner = ".".join(str(part) for part in error["loc"][1:])
    return f"{error['msg']}" + (f" (at {inner})" if inner else "")


def validate_request(model: type[M], named: Mapping[str, Any], advanced: Any = None) -> M:
    """
    Validate the named arguments plus ``advanced`` into ``model``; the error names the argument at fault.

    :param model: the request model.
    :param named: the operator's named arguments (``None`` values count as unset).
    :param advanced: extra request fields (a dict or JSON text), merged into the body.
    """
    given = {name: value for name, value in named.items() if value is not None}
    for name, value in given.items():
        if isinstance(value, str) and not value.strip():
            raise InvalidArgumentError(name, "is blank; give a value or leave it unset")
    extra = json_object(advanced, "advanced") or {}
    if clashes := sorted(set(given) & set(extra)):
        raise InvalidArgumentError(
            "advanced", f"sets '{clashes[0]}', which is a named argument of the operator; set it there"
        )
    try:
        return model.model_validate({**extra, **given})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "advanced"
        argument = field if field in given or field not in extra else f"advanced.{field}"
        if error["type"] == "extra_forbidden":
            where = f" (at {'.'.join(map(str, error['loc'][1:]))})" if len(error["loc"]) > 1 else ""
            name = str(error["loc"][-1]) if error["loc"] else field
            raise InvalidArgumentError(argument, f"'{name}' is not a field of this API request{where}") from None
        raise InvalidArgumentError(argument, _describe(error)) from None


def request_body(model: type[BaseModel], named: Mapping[str, Any], advanced: Any = None) -> dict[str, Any]:
    """
    Validate like :func:`validate_request` and return the JSON body to send.

    :param model: the request model.
    :param named: the operator's named arguments.
    :param advanced: extra request fields.
    """
    return validate_request(model, named, advanced).model_dump(mode="json", exclude_none=True)


def json_only(value: Any, argument: str) -> Any:
    """
    Check that ``value`` is plain JSON: text, finite numbers, booleans, null, lists and objects with text keys.
    ``NaN`` and infinities (which JSON cannot carry) and other Python objects are refused, naming where.

    :param value: a decoded JSON value.
    :param argument: the argument's name, for the error.
    """
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, where = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidArgumentError(argument, f"holds {item} at {where or 'the top'}; JSON has no NaN or infinity")
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InvalidArgumentError(argument, f"has a non-text key {key!r} at {where or 'the top'}")
                pending.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list | tuple):
            pending += [(child, f"{where}[{index}]") for index, child in enumerate(item)]
        elif item is not None and not isinstance(item, str | int | float):
            raise InvalidArgumentError(
                argument, f"holds a {type(item).__name__} at {where or 'the top'}, which is not a JSON value"
            )
    return value


def json_value(value: Any, argument: str) -> Any:
    """
    Parse JSON text (as a template renders a dict or list); other values pass, blank text gives ``None``. Either
    way the result must be plain JSON (:func:`json_only`).

    :param value: the argument's value.
    :param argument: the argument's name, for the error.
    """
    if not isinstance(value, str):
        return json_only(value, argument) if isinstance(value, Mapping | list | tuple | float) else value
    if not value.strip():
        return None
    try:
        return json_only(json.loads(value), argument)
    except ValueError as exc:
        where = f": {exc.msg} at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise InvalidArgumentError(argument, f"is not valid JSON{where}") from None


def json_object(value: Any, argument: str) -> dict[str, Any] | None:
    """
    Accept a dict, or JSON text of an object; ``None`` and blank text give ``None``.

    :param value: the argument's value.
    :param argument: the argument's name, for the error.
    """
    parsed = json_value(value, argument)
    if parsed is None:
        return None
    if not isinstance(parsed, Mapping):
        raise InvalidArgumentError(argument, f"must be a JSON object (a dict), got {type(parsed).__name__}")
    return dict(parsed)


def json_list(value: Any, argument: str) -> Any:
    """
    Accept a list (a tuple becomes one), or JSON text of a list; other values pass for the schema to judge.

    :param value: the argument's value.
    :param argument: the argument's name, for the error.
    """
    if isinstance(value, tuple):
        return list(value)
    if not isinstance(value, str):
        return value
    parsed = json_value(value, argument)
    if not isinstance(parsed, list):
        raise InvalidArgumentError(argument, f"must be a JSON list, got {type(parsed).__name__}")
    return parsed


def text_or_list(value: Any) -> Any:
    """
    A list rendered as JSON text by a template becomes the list again; any other text stays text.

    :param value: the argument's value.
    """
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, list) else value
    return value


def positive_int(argument: str, value: Any) -> int | None:
    """
    Accept a positive integer, or its digits as text (a template renders numbers as text); ``None`` passes.

    :param argument: the argument's name, for the error.
    :param value: the value given.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(argument, f"must be a positive integer, got {value!r}")
    return value


def positive_number(argument: str, value: Any) -> float:
    """
    Accept a finite positive number, or its text.

    :param argument: the argument's name, for the error.
    :param value: the value given.
    """
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number) or number <= 0:
        raise InvalidArgumentError(argument, f"must be a positive number, got {value!r}")
    return float(number)


def identifier(argument: str, value: Any, example: str = "an id") -> str:
    """
    Accept a non-empty id of letters, digits and ``-._~:/`` (surrounding blanks are stripped), at most
    :data:`MAX_ID_CHARS` characters: what goes into a path segment.

    :param argument: the argument's name, for the error.
    :param value: the value given.
    :param example: what such an id looks like, for the error.
    """
    text = value.strip() if isinstance(value, str) else None
    if not text or len(text) > MAX_ID_CHARS or not _ID.fullmatch(text):
        shown = repr(value) if not isinstance(value, str) or len(value) <= 80 else f"{value[:80]!r}..."
        raise InvalidArgumentError(argument, f"must be {example} (letters, digits, '-._~:/'), got {shown}")
    return text


def choice(argument: str, value: Any, allowed: Sequence[str]) -> str:
    """
    Check that ``value`` is one of ``allowed``.

    :param argument: the argument's name, for the error.
    :param value: the value given.
    :param allowed: the accepted values.
    """
    if not isinstance(value, str) or value not in allowed:
        raise InvalidArgumentError(argument, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def required(argument: str, value: Any, because: str) -> Any:
    """
    Check that an argument needed by the chosen action is set.

    :param argument: the argument's name, for the error.
    :param value: the value given.
    :param because: why it is needed (e.g. ``"action='retrieve'"``).
    """
    if value is None or (
        isinstance(value, str | list | tuple | dict) and not (value.strip() if isinstance(value, str) else value)
    ):
        raise InvalidArgumentError(argument, f"is required with {because}")
    return value

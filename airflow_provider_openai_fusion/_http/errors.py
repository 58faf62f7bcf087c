"""An error answer mapped to the exception of its status, and JSON decoding of answers, both bounded."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_openai_fusion.exceptions import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)

MAX_ERROR_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 500
_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _error_fields(body: bytes) -> tuple[str | None, dict[str, Any]]:
    try:
        payload = json.loads(body) if body else None
    except (ValueError, RecursionError):
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            return (str(error["message"]) if error.get("message") is not None else None), error
        if isinstance(error, str):
            return error, {}
        if isinstance(payload.get("message"), str):
            return payload["message"], payload
        if isinstance(payload.get("detail"), str):
            return payload["detail"], payload
    return None, {}


def _html_title(text: str) -> str | None:
    """The first ``<title>`` of an HTML page, found in linear time."""
    lowered = text.lower()
    start = lowered.find("<title")
    if start < 0 or (open_end := lowered.find(">", start)) < 0:
        return None
    end = lowered.find("</title", open_end)
    title = " ".join(text[open_end + 1 : end if end >= 0 else len(text)].split())
    return title[:MAX_MESSAGE_CHARS] or None


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)[:MAX_MESSAGE_CHARS]


def error_from_response(status_code: int, headers: Mapping[str, str], body: bytes) -> APIStatusError:
    """
    Map an error answer to the exception of its status, carrying OpenAI's message, type, code, param and the
    request id. A body that is not OpenAI's error JSON (an HTML page from a proxy) is summarised, not dumped; only
    the first :data:`MAX_ERROR_BYTES` are read, in linear time.

    :param status_code: the HTTP status.
    :param headers: the response headers (case-insensitive mapping).
    :param body: the response body.
    """
    body = body[:MAX_ERROR_BYTES]
    message, fields = _error_fields(body)
    if message is None:
        text = body.decode("utf-8", "replace")
        content_type = headers.get("content-type", "")
        if "html" in content_type or text.lstrip().startswith("<"):
            title = _html_title(text)
            message = f"HTTP {status_code} with an HTML page" + (f": {title}" if title else "")
        else:
            message = text.strip()[:MAX_MESSAGE_CHARS] or f"HTTP {status_code} with an empty body"
    cls = _STATUS_ERRORS.get(status_code, InternalServerError if status_code >= 500 else APIStatusError)
    return cls(
        message[: MAX_MESSAGE_CHARS * 4],
        status_code=status_code,
        error_type=_optional_str(fields.get("type")),
        code=_optional_str(fields.get("code")),
        param=_optional_str(fields.get("param")),
        request_id=_optional_str(headers.get("x-request-id")),
    )


def decode_json(body: bytes, request_id: str | None) -> Any:
    """
    Decode a success body as JSON, or raise :class:`APIResponseValidationError`.

    :param body: the response body.
    :param request_id: the ``x-request-id`` header, for the error.
    """
    try:
        return json.loads(body)
    except ValueError as exc:
        reason = f"{exc.msg} at byte {exc.pos} of {len(body)}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise APIResponseValidationError(
            f"the API answered with a body that is not valid JSON ({reason})", request_id=request_id
        ) from None
    except RecursionError:
        raise APIResponseValidationError(
            "the API answered with JSON nested too deeply to decode", request_id=request_id
        ) from None

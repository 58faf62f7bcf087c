"""
The I/O-free core of the HTTP client.

Everything that decides, and nothing that waits: connection settings, URL joining (with the rules that pin
the API key to the configured base URL), headers, the retry policy, ``Retry-After`` parsing, backoff with
jitter, and the mapping from an error answer to an exception. The two drivers in ``_transport`` do the I/O.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from airflow_provider_openai_fusion import __version__
from airflow_provider_openai_fusion.exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionConfigError,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 600.0
DEFAULT_MAX_RETRIES = 2
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 60.0
USER_AGENT = f"airflow-provider-openai-fusion/{__version__}"
KNOWN_EXTRAS = ("organization_id", "project_id", "timeout", "max_retries")
REDACTED = "***"
_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "openai-api-key", "proxy-authorization"})
_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


@dataclass(frozen=True)
class ClientSettings:
    """
    Everything the client needs from the Connection, read once and validated.

    :param base_url: the API base including the version path, without a trailing slash.
    :param api_key: the secret key; excluded from ``repr``.
    :param organization_id: sent as ``OpenAI-Organization`` when set.
    :param project_id: sent as ``OpenAI-Project`` when set.
    :param timeout: per-request timeout in seconds.
    :param max_retries: retries of retryable failures.
    """

    base_url: str
    api_key: str = field(repr=False)
    organization_id: str | None = None
    project_id: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_number(conn_id: str, name: str, value: Any, kind: type[int] | type[float]) -> int | float:
    try:
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ConnectionConfigError(conn_id, name, f"must be a {kind.__name__}, got {value!r}") from None
    if isinstance(value, bool) or (isinstance(value, float) and value != number):
        raise ConnectionConfigError(conn_id, name, f"must be a {kind.__name__}, got {value!r}")
    if not math.isfinite(number) or number < 0 or (kind is float and number == 0):
        raise ConnectionConfigError(conn_id, name, f"must be a positive {kind.__name__}, got {value!r}")
    return number


def base_url_from_connection(conn_id: str, host: str | None, schema: str | None, port: int | None) -> str:
    """
    Build the base URL from the Connection's host (plus schema and port, if a URI-style connection set them).

    :param conn_id: the connection id, for error messages.
    :param host: the Base URL field; empty means OpenAI's.
    :param schema: the connection's schema, used as the URL scheme when the host has none.
    :param port: the connection's port, used when the host has none.
    """
    if _blank(host):
        return DEFAULT_BASE_URL
    raw = host.strip()
    if "://" not in raw:
        raw = f"{(schema or 'https').strip()}://{raw}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionConfigError(conn_id, "host", f"Base URL must be an http(s) URL such as {DEFAULT_BASE_URL}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConnectionConfigError(conn_id, "host", "Base URL must not carry credentials, a query or a fragment")
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def settings_from_connection(
    conn_id: str,
    *,
    host: str | None,
    password: str | None,
    extra: Mapping[str, Any],
    schema: str | None = None,
    port: int | None = None,
) -> ClientSettings:
    """
    Validate a Connection's fields into :class:`ClientSettings`.

    Extras may arrive as strings (the CLI stores numbers as text); empty values count as unset; an unknown
    extra key is an error naming it, so that a typo cannot pass silently.

    :param conn_id: the connection id, for error messages.
    :param host: the Base URL field.
    :param password: the API Key field.
    :param extra: the connection's extras.
    :param schema: the connection's schema (URI-style connections only).
    :param port: the connection's port (URI-style connections only).
    """
    unknown = sorted(set(extra) - set(KNOWN_EXTRAS))
    if unknown:
        raise ConnectionConfigError(
            conn_id, unknown[0], f"unknown extra field; the known ones are {', '.join(KNOWN_EXTRAS)}"
        )
    if _blank(password):
        raise ConnectionConfigError(
            conn_id, "password", "the API Key is empty; set it in the connection's API Key field"
        )
    values = {name: value for name, value in extra.items() if not _blank(value)}
    return ClientSettings(
        base_url=base_url_from_connection(conn_id, host, schema, port),
        api_key=password.strip(),
        organization_id=str(values["organization_id"]).strip() if "organization_id" in values else None,
        project_id=str(values["project_id"]).strip() if "project_id" in values else None,
        timeout=float(_parse_number(conn_id, "timeout", values.get("timeout", DEFAULT_TIMEOUT), float)),
        max_retries=int(_parse_number(conn_id, "max_retries", values.get("max_retries", DEFAULT_MAX_RETRIES), int)),
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def relative_path(path: str, argument: str = "url") -> str:
    """
    Check that ``path`` stays under the base URL, and return it without its leading slash.

    Refused: absolute URLs, scheme-relative ``//host``, ``..`` segments (also percent-encoded), backslashes,
    ``@`` before the first slash (``user@host`` tricks), control characters, and a query or fragment (pass
    ``query`` instead).

    :param path: the path relative to the base URL; a leading ``/`` is still relative to it.
    :param argument: the operator argument the path came from, for error messages.
    """
    if not isinstance(path, str) or not path.strip():
        raise InvalidArgumentError(argument, "must be a non-empty path relative to the connection's Base URL")
    if _CONTROL.search(path):
        raise InvalidArgumentError(argument, "must not contain control characters (CR, LF, NUL, ...)")
    if "\\" in path:
        raise InvalidArgumentError(argument, "must not contain backslashes")
    if path.startswith("//") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path):
        raise InvalidArgumentError(argument, "must be relative to the connection's Base URL, not an absolute URL")
    if "?" in path or "#" in path:
        raise InvalidArgumentError(argument, "must not contain a query or fragment; pass the query as 'query'")
    stripped = path.lstrip("/")
    if "@" in stripped.split("/", 1)[0]:
        raise InvalidArgumentError(argument, "must not contain '@' in its first segment")
    decoded = unquote(unquote(stripped))
    if any(segment in (".", "..") for segment in re.split(r"[/\\]", decoded)):
        raise InvalidArgumentError(argument, "must not contain '.' or '..' segments (they would leave the Base URL)")
    return stripped


def join_url(base_url: str, path: str) -> str:
    """
    Join the base URL and a path already checked by :func:`relative_path`.

    :param base_url: the API base, without a trailing slash.
    :param path: the relative path, without a leading slash.
    """
    return f"{base_url}/{path}" if path else base_url


def build_headers(settings: ClientSettings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """
    Build the request headers: auth, organization, project, user agent, then the caller's own headers.

    :param settings: the client settings.
    :param extra: headers of the caller; they may not set ``Authorization``.
    """
    headers = {"Authorization": f"Bearer {settings.api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}
    if settings.organization_id:
        headers["OpenAI-Organization"] = settings.organization_id
    if settings.project_id:
        headers["OpenAI-Project"] = settings.project_id
    for name, value in (extra or {}).items():
        if name.lower() == "authorization":
            raise InvalidArgumentError("headers", "must not set Authorization; the connection's API Key is added")
        if _CONTROL.search(str(name)) or _CONTROL.search(str(value)):
            raise InvalidArgumentError("headers", f"header {name!r} contains a control character (CR, LF, ...)")
        headers[str(name)] = str(value)
    return headers


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """
    Return a copy of ``headers`` fit for a log line.

    :param headers: request or response headers.
    """
    return {name: REDACTED if name.lower() in _SECRET_HEADERS else value for name, value in headers.items()}


def is_retryable_status(status_code: int, headers: Mapping[str, str]) -> bool:
    """
    Decide whether an error answer is worth retrying; an ``x-should-retry`` header wins.

    :param status_code: the HTTP status.
    :param headers: the response headers (case-insensitive mapping).
    """
    should_retry = headers.get("x-should-retry")
    if should_retry == "true":
        return True
    if should_retry == "false":
        return False
    return status_code in (408, 409, 429) or status_code >= 500


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """
    Read how long the server asks us to wait: ``retry-after-ms``, then ``Retry-After`` in seconds or as an
    HTTP date. Values that are missing, negative or above :data:`MAX_RETRY_AFTER` give ``None`` (use backoff).

    :param headers: the response headers (case-insensitive mapping).
    :param now: the current Unix time, for HTTP dates; defaults to the clock.
    """
    delay: float | None = None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            delay = float(ms) / 1000
        except ValueError:
            delay = None
    if delay is None and (value := headers.get("retry-after")) is not None:
        try:
            delay = float(value)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if _looks_like_date(value) else None
            delay = parsed.timestamp() - (time.time() if now is None else now) if parsed else None
    if delay is None or not math.isfinite(delay) or delay < 0 or delay > MAX_RETRY_AFTER:
        return None
    return delay


def _looks_like_date(value: str) -> bool:
    try:
        return email.utils.parsedate_tz(value) is not None
    except (TypeError, ValueError):
        return False


def backoff_seconds(retries_done: int, rng: random.Random | None = None) -> float:
    """
    Exponential backoff with jitter: ``min(0.5 * 2**n, 8)`` seconds, reduced by up to 25 % at random.

    :param retries_done: how many retries happened before this one (0 for the first).
    :param rng: a random generator, for reproducible tests.
    """
    base = min(INITIAL_BACKOFF * 2**retries_done, MAX_BACKOFF)
    return base * (1 - 0.25 * (rng or random).random())


def _error_fields(body: bytes) -> tuple[str | None, dict[str, Any]]:
    try:
        payload = json.loads(body) if body else None
    except ValueError:
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


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def error_from_response(status_code: int, headers: Mapping[str, str], body: bytes) -> APIStatusError:
    """
    Map an error answer to the exception of its status, carrying OpenAI's message, type, code, param and the
    request id. A body that is not OpenAI's error JSON (an HTML page from a proxy) is summarised, not dumped.

    :param status_code: the HTTP status.
    :param headers: the response headers (case-insensitive mapping).
    :param body: the response body.
    """
    message, fields = _error_fields(body)
    if message is None:
        text = body.decode("utf-8", "replace")
        content_type = headers.get("content-type", "")
        if "html" in content_type or text.lstrip().startswith("<"):
            title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
            message = f"HTTP {status_code} with an HTML page" + (f": {title.group(1).strip()}" if title else "")
        else:
            message = text.strip()[:500] or f"HTTP {status_code} with an empty body"
    cls = _STATUS_ERRORS.get(status_code, InternalServerError if status_code >= 500 else APIStatusError)
    return cls(
        message,
        status_code=status_code,
        error_type=_optional_str(fields.get("type")),
        code=_optional_str(fields.get("code")),
        param=_optional_str(fields.get("param")),
        request_id=headers.get("x-request-id"),
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
        raise APIResponseValidationError(
            f"the API answered with a body that is not valid JSON ({exc.msg} at byte {exc.pos} of {len(body)})",
            request_id=request_id,
        ) from None


@dataclass(frozen=True)
class FilePart:
    """
    A file field of a multipart request, opened anew for each attempt so that a retry re-sends it whole.

    :param field: the form field name.
    :param path: the local file.
    :param content_type: the part's content type.
    """

    field: str
    path: Path
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class RequestSpec:
    """
    One API call, described without doing it.

    :param method: the HTTP method.
    :param path: the path relative to the base URL (checked by :func:`relative_path`).
    :param json: the JSON body.
    :param params: the query parameters.
    :param data: the form fields of a multipart body.
    :param files: the file fields of a multipart body.
    :param content: a raw body.
    :param headers: extra headers.
    :param response: the response model (a name in ``models.responses``) the JSON answer is checked against.
    :param listing: the answer is a list page whose items are checked against ``response``.
    """

    method: str
    path: str
    json: Any = None
    params: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    files: tuple[FilePart, ...] = ()
    content: bytes | None = None
    headers: Mapping[str, str] | None = None
    response: str | None = None
    listing: bool = False

    @contextmanager
    def open_files(self) -> Iterator[list[tuple[str, tuple[str, IO[bytes], str]]] | None]:
        """Open the file parts from their start; closed when the attempt ends."""
        if not self.files:
            yield None
            return
        with ExitStack() as stack:
            yield [
                (part.field, (part.path.name, stack.enter_context(part.path.open("rb")), part.content_type))
                for part in self.files
            ]


def request_arguments(settings: ClientSettings, spec: RequestSpec, files: Any) -> dict[str, Any]:
    """
    The keyword arguments of ``httpx.Client.build_request`` for one attempt of ``spec``. The headers of
    :func:`build_headers` are the client's defaults (set once, see ``_transport``), so a call repeats them only
    when it has headers of its own; that keeps building a request as cheap as a bare ``httpx`` call.

    :param settings: the client settings.
    :param spec: the call.
    :param files: the opened file parts of this attempt.
    """
    return {
        "method": spec.method,
        "url": join_url(settings.base_url, relative_path(spec.path, "path")),
        "json": spec.json,
        "params": {k: v for k, v in (spec.params or {}).items() if v is not None} or None,
        "data": spec.data,
        "files": files,
        "content": spec.content,
        "headers": build_headers(settings, spec.headers) if spec.headers else None,
    }


@dataclass
class RetryState:
    """
    The retry decision of one call, fed with each attempt's outcome by a driver.

    :param max_retries: retries allowed after the first attempt.
    :param rng: a random generator for the jitter.
    """

    max_retries: int
    rng: random.Random | None = None
    retries_done: int = 0

    def after_status(self, status_code: int, headers: Mapping[str, str], body: bytes) -> float:
        """
        Decide after an error answer: return the delay before the next attempt, or raise the mapped error.

        :param status_code: the HTTP status (400 or above).
        :param headers: the response headers.
        :param body: the response body.
        """
        error = error_from_response(status_code, headers, body)
        if not is_retryable_status(status_code, headers):
            raise error
        delay = retry_after_seconds(headers)
        return self._next(error, backoff_seconds(self.retries_done, self.rng) if delay is None else delay)

    def after_transport_error(self, exc: Exception, *, timed_out: bool) -> float:
        """
        Decide after a transport failure: return the delay before the next attempt, or raise a typed error.

        :param exc: the transport exception (its text never holds headers).
        :param timed_out: whether it was a timeout.
        """
        cls = APITimeoutError if timed_out else APIConnectionError
        error = cls(f"{'request timed out' if timed_out else 'connection error'}: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return self._next(error, backoff_seconds(self.retries_done, self.rng))

    def _next(self, error: APIError, delay: float) -> float:
        if self.retries_done >= self.max_retries:
            raise error
        self.retries_done += 1
        return delay

"""
One API call described without doing it, and the rules that keep the API key on the configured server.

:class:`RequestSpec` is what every layer above hands to the drivers; :func:`relative_path` pins every path under
the base URL; :func:`build_headers` adds the key and refuses caller headers that could move it elsewhere;
:func:`redact` removes the key from any text that could reach a log, an exception or an XCom.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from airflow_provider_openai_fusion import __version__
from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 600.0
DEFAULT_MAX_RETRIES = 2
USER_AGENT = f"airflow-provider-openai-fusion/{__version__}"
REDACTED = "***"
MAX_JSON_BYTES = 256 * 1024 * 1024
_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "openai-api-key", "proxy-authorization"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
    :param headers: extra headers.
    :param response: the response schema (a class with ``model_validate``) the JSON answer is checked against.
    :param listing: the answer is a list page whose items are checked against ``response``.
    :param max_bytes: the most bytes of (decompressed) answer accepted.
    """

    method: str
    path: str
    json: Any = None
    params: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    files: tuple[FilePart, ...] = ()
    headers: Mapping[str, str] | None = None
    response: type | None = None
    listing: bool = False
    max_bytes: int = MAX_JSON_BYTES

    @property
    def label(self) -> str:
        """The call as ``METHOD /path``, for messages."""
        return f"{self.method} /{self.path}"

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


def redact(value: Any, secret: str) -> Any:
    """
    Replace every occurrence of ``secret`` in text, bytes, or the strings of a decoded JSON value.

    :param value: a string, bytes, or a JSON value (dicts and lists are copied).
    :param secret: the API key.
    """
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, REDACTED)
    if isinstance(value, bytes):
        return value.replace(secret.encode(), REDACTED.encode())
    if isinstance(value, dict):
        return {redact(key, secret): redact(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, secret) for item in value]
    return value


def request_arguments(settings: ClientSettings, spec: RequestSpec, files: Any) -> dict[str, Any]:
    """
    The keyword arguments of ``httpx.Client.build_request`` for one attempt of ``spec``. The headers of
    :func:`build_headers` are the client's defaults (set once, see ``transport``), so a call repeats them only
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
        "headers": build_headers(settings, spec.headers) if spec.headers else None,
    }

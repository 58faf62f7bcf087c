"""
One API call described without doing it, and the rules that keep the API key on the configured server.

:class:`RequestSpec` is what every layer above hands to the drivers; :func:`relative_path` pins every path under
the base URL; :func:`build_headers` adds the key and refuses caller headers that could move it elsewhere.
"""

from __future__ import annotations

import functools
import io
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
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
MAX_JSON_BYTES = 256 * 1024 * 1024
MAX_PATH_CHARS = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PATH_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~:/]|%[0-9A-Fa-f]{2})*")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_ESCAPED_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
ALLOWED_HEADERS = frozenset({"accept", "accept-language", "content-type", "idempotency-key", "openai-beta"})
"""Caller headers accepted besides ``X-*`` ones: none of them changes where a request goes or who sends it."""
REFUSED_HEADERS = frozenset(
    {"x-real-ip", "x-method-override", "x-client-ip", "x-cluster-client-ip", "x-api-key", "x-url-scheme"}
)
REFUSED_HEADER_PREFIXES = ("x-forwarded", "x-original-", "x-rewrite-", "x-http-method", "x-envoy-", "x-proxy")
ROUTING_WORDS = ("host", "url", "uri", "forward", "override", "rewrite", "rout", "backend", "upstream", "origin")
"""A caller's ``X-*`` header whose name holds one of these is refused: ingresses and proxies pick a backend, a
path or a method by such headers (``X-HTTP-Host-Override``, ``X-Backend-Host``, ``X-Override-URL``, ...)."""


@dataclass(frozen=True)
class ClientSettings:
    """
    Everything the client needs from the Connection, read once and validated.

    :param base_url: the API base including the version path, without a trailing slash.
    :param api_key: the secret key; excluded from ``repr``.
    :param organization_id: sent as ``OpenAI-Organization`` when set.
    :param project_id: sent as ``OpenAI-Project`` when set.
    :param timeout: seconds one attempt may take in all (connect, send, the whole answer).
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
    :param offset: where the sent bytes start in the file (a part of a large upload).
    :param length: how many bytes to send from ``offset``; ``None`` for the rest of the file.
    """

    field: str
    path: Path
    content_type: str = "application/octet-stream"
    offset: int = 0
    length: int | None = None

    def open(self) -> IO[bytes]:
        """The file, or the byte range it names, opened for reading from its start."""
        handle = self.path.open("rb")
        if self.offset == 0 and self.length is None:
            return handle
        length = self.length if self.length is not None else max(os.fstat(handle.fileno()).st_size - self.offset, 0)
        return FileRange(handle, self.offset, length)  # type: ignore[return-value]


class FileRange(io.RawIOBase):
    """
    ``length`` bytes of an open file from ``offset``, as a file of their own: reads stop at the range's end, and
    ``seek``/``tell`` count from its start (httpx reads a part's size with ``seek(0, 2)``, and ``seek(0)`` before
    sending it). It has no ``fileno``, so nothing can measure the whole file instead of the range.

    :param handle: the open file (closed with the range).
    :param offset: where the range starts.
    :param length: how many bytes it holds.
    """

    def __init__(self, handle: IO[bytes], offset: int, length: int) -> None:
        super().__init__()
        self._handle = handle
        self._offset = offset
        self._length = length
        self._position = 0
        handle.seek(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        raise OSError("a file range has no file descriptor of its own")

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._length}[whence]
        self._position = min(max(base + position, 0), self._length)
        self._handle.seek(self._offset + self._position)
        return self._position

    def read(self, size: int = -1) -> bytes:
        wanted = self._length - self._position if size is None or size < 0 else size
        chunk = self._handle.read(max(min(wanted, self._length - self._position), 0))
        self._position += len(chunk)
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        memoryview(buffer)[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._handle.close()
        super().close()


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

    def open_files(self) -> AbstractContextManager[list[tuple[str, tuple[str, IO[bytes], str]]] | None]:
        """Open the file parts from their start; closed when the attempt ends (``None`` without file parts)."""
        return self._opened_files() if self.files else nullcontext()

    @contextmanager
    def _opened_files(self) -> Iterator[list[tuple[str, tuple[str, IO[bytes], str]]]]:
        with ExitStack() as stack:
            yield [
                (part.field, (part.path.name, stack.enter_context(part.open()), part.content_type))
                for part in self.files
            ]


def _fully_decoded(text: str) -> str:
    """Percent-decode until nothing changes (double and triple encodings included), then NFKC-normalise."""
    for _ in range(5):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return unicodedata.normalize("NFKC", text)


def _path_trick(decoded: str) -> str | None:
    """What a fully decoded, normalised path holds that a server or a proxy could read as another path."""
    if any(segment in (".", "..") for segment in re.split(r"[/\\]", decoded)):
        return "'.' or '..' segments (they would leave the Base URL)"
    if ";" in decoded:
        return "';' (a path parameter, which some servers strip to reach another path: '..;/')"
    if _CONTROL.search(decoded) or "\\" in decoded:
        return "control characters (NUL, CR, LF, ...) or backslashes"
    if " " in decoded or (
        not decoded.isascii() and any(char.isspace() or unicodedata.category(char) == "Cf" for char in decoded)
    ):
        return "whitespace or invisible characters (zero-width space, ...)"
    return None


def relative_path(path: str, argument: str = "url") -> str:
    """
    Check that ``path`` stays under the base URL, and return it without its leading slash.

    A path holds only unreserved characters (letters, digits, ``-._~``), ``:``, ``/`` and ``%XX`` escapes of
    those (``%2F`` keeps an id such as ``org/model`` one segment). Refused, each with its reason: absolute URLs,
    scheme-relative ``//host``, a query or fragment (pass ``query`` instead), ``@`` before the first slash
    (``user@host`` tricks), and, after full percent-decoding and Unicode NFKC normalisation (full-width dots
    become dots), ``.``/``..`` segments, ``;``, control characters, backslashes, whitespace and invisible
    characters; paths over :data:`MAX_PATH_CHARS` characters.

    :param path: the path relative to the base URL; a leading ``/`` is still relative to it.
    :param argument: the operator argument the path came from, for error messages.
    """
    if type(path) is str:  # a path that passed is remembered (most calls repeat a few); a refused one raises anew
        return _checked_path(path, argument)
    return _check_path(path, argument)


@functools.lru_cache(maxsize=1024)
def _checked_path(path: str, argument: str) -> str:
    return _check_path(path, argument)


def _check_path(path: Any, argument: str) -> str:
    if not isinstance(path, str) or not path.strip():
        raise InvalidArgumentError(argument, "must be a non-empty path relative to the connection's Base URL")
    if len(path) > MAX_PATH_CHARS:
        raise InvalidArgumentError(argument, f"is {len(path):,} characters long; at most {MAX_PATH_CHARS:,}")
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
    plain = "%" not in stripped and stripped.isascii()  # the common case: nothing to decode or normalise
    if trick := _path_trick(stripped if plain else _fully_decoded(stripped)):
        raise InvalidArgumentError(argument, f"must not contain {trick}")
    if not _PATH_CHARS.fullmatch(stripped) or any(
        chr(int(code, 16)) not in _ESCAPED_CHARS for code in _ESCAPE.findall(stripped)
    ):
        raise InvalidArgumentError(argument, "may hold only letters, digits, '-._~:/' and %XX escapes of those")
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
        check_header(name, value)
        headers[name] = value.strip()
    return headers


def check_header(name: Any, value: Any) -> None:
    """
    Refuse a caller's header that could change where a request goes, how it is framed or who sends it.

    Accepted: :data:`ALLOWED_HEADERS` and ``X-*`` names, except the routing and override ones: any name holding
    one of :data:`ROUTING_WORDS` (``X-Forwarded``, ``X-Original-URL``, ``X-HTTP-Host-Override``,
    ``X-Backend-Host``, ``X-Upstream``, ``X-Route``, ...) and the client-identity ones of
    :data:`REFUSED_HEADERS` (``X-Real-IP``, ``X-Client-IP``, ...). So ``Host``, ``Forwarded``,
    ``Connection``, ``Upgrade``, ``TE``, ``Transfer-Encoding``, ``Content-Length``, ``Expect``, ``Cookie``,
    ``Proxy-*``, ``Authorization``, ``OpenAI-Organization`` and ``OpenAI-Project`` (set those on the connection)
    are refused. A name must be an HTTP token, a value printable ASCII.

    :param name: the header name.
    :param value: the header value.
    """
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise InvalidArgumentError("headers", f"header name {name!r} is not an HTTP token (letters, digits, '-')")
    if not isinstance(value, str) or not _PRINTABLE.fullmatch(value):
        raise InvalidArgumentError(
            "headers", f"the value of header {name!r} must be printable ASCII text (no line breaks, no accents)"
        )
    lowered = name.lower()
    if lowered == "authorization":
        raise InvalidArgumentError("headers", "must not set Authorization; the connection's API Key is added")
    if lowered in ("openai-organization", "openai-project"):
        raise InvalidArgumentError("headers", f"must not set {name}; set it on the connection")
    routing = (
        lowered in REFUSED_HEADERS
        or lowered.startswith(REFUSED_HEADER_PREFIXES)
        or any(word in lowered for word in ROUTING_WORDS)
    )
    if routing or not (lowered in ALLOWED_HEADERS or lowered.startswith("x-")):
        raise InvalidArgumentError(
            "headers",
            f"header {name!r} is not accepted: it could change where the request goes, how it is framed or who "
            f"sends it; accepted are {', '.join(sorted(ALLOWED_HEADERS))} and X-* headers whose name holds none "
            f"of {', '.join(ROUTING_WORDS)} (nor X-Real-IP, X-Client-IP and the like)",
        )


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

"""
Property-based test of the transport: hypothesis throws random hostile answers at every call kind (JSON with a
response schema, JSON without one, the custom call's raw answer, a listing followed page by page, a download, a
multipart upload), through the sync and the async client, and checks three things every time:

- it ends within its bound: one attempt per call (``max_retries`` is 0; retries have their own tests), at most
  one request more than the pages the server offers, and within the attempt's timeout;
- the outcome is a valid result of the call (checked against its schema) or a provider error (``APIError``),
  never another exception (``ValueError``, ``zlib.error``, ``RecursionError``, an httpx error ...);
- the API key, in none of the forms the server echoes it in, reaches the result, the error or the log.

Hostile means: any status, sizes up to and over the call's cap, ``Content-Encoding`` layers that lie or bomb,
bodies in UTF-8, UTF-16, UTF-32 or no text at all, JSON nested too deep, answers cut off mid-stream, headers that
echo the key, pages that repeat their cursor. Downloads are written byte for byte as the server sent them (the
user asked for that file), so the key check covers their result and errors, not the file's own bytes.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from airflow_provider_openai_fusion._http.request import FilePart, RequestSpec
from airflow_provider_openai_fusion.api.models import Model
from airflow_provider_openai_fusion.exceptions import APIError
from tests.conftest import SENTINEL_KEY
from tests.unit.helpers import chain

TIMEOUT = 5.0
SECRET_PART = SENTINEL_KEY.split("-")[-1]
KEY_FORMS = {
    "plain": SENTINEL_KEY,
    "JSON-escaped": "".join(f"\\u{ord(char):04x}" for char in SENTINEL_KEY),
    "percent": "".join(f"%{ord(char):02X}" for char in SENTINEL_KEY),
    "double percent": "".join(f"%25{ord(char):02x}" for char in SENTINEL_KEY),
    "base64 bearer": base64.b64encode(f"Bearer {SENTINEL_KEY}".encode()).decode(),
    "HTML entities": "".join(f"&#{ord(char)};" for char in SENTINEL_KEY),
}
STATUSES = [200, 201, 204, 206, 299, 301, 302, 304, 400, 401, 403, 404, 408, 409, 418, 422, 429, 500, 502, 503, 599]
KINDS = ["schema", "json", "raw", "pages", "download", "upload"]
BOMB = gzip.compress(b"[" + b"0," * 600_000 + b"0]")


@dataclass
class Answer:
    """One hostile answer: status, headers, body (already encoded) and how the body is framed."""

    status: int
    headers: dict[str, str]
    body: bytes
    chunks: int = 1
    cut_after: int | None = None


@dataclass
class Server:
    """A MockTransport handler playing ``answers`` in order (the last one repeats), counting requests."""

    answers: list[Answer]
    requests: list[httpx.Request] = field(default_factory=list)

    def _parts(self, answer: Answer) -> Iterator[bytes]:
        size = max(len(answer.body) // answer.chunks, 1)
        for start in range(0, len(answer.body), size):
            if answer.cut_after is not None and start >= answer.cut_after:
                raise httpx.ReadError("connection reset mid-body")
            yield answer.body[start : start + size]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return httpx.Response(answer.status, headers=answer.headers, stream=_Stream(self._parts(answer)))


class _Stream(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts

    def __iter__(self) -> Iterator[bytes]:
        yield from self._parts

    async def __aiter__(self) -> Any:
        for part in self._parts:
            yield part


def _json_bytes(value: Any, charset: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode(charset)


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    """A JSON value: a model object, a list page, an error object, or anything, maybe echoing the key."""
    echo = draw(st.sampled_from([*KEY_FORMS.values(), "no key here"]))
    text = st.text(max_size=40)
    anything = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=12,
    )
    return draw(
        st.sampled_from(
            [
                {"id": "gpt-x", "object": "model", "created": 1, "owned_by": echo},
                {"object": "list", "data": [{"id": "f-1", echo: 1}], "has_more": False},
                {"error": {"message": f"bad key {echo}", "type": "invalid_request_error", "code": echo}},
                {"detail": echo},
                {echo: [echo, {"nested": echo}]},
                {"id": "gpt-x", "object": "model", "created": "yesterday", "owned_by": None},
            ]
        )
        | anything
    )


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """An answer body and its content type, in any encoding of text, or none."""
    echo = draw(st.sampled_from(list(KEY_FORMS.values())))
    charset = draw(st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-16-le"]))
    kind = draw(st.sampled_from(["json", "json", "html", "text", "binary", "deep", "empty", "big", "nan"]))
    if kind == "json":
        return _json_bytes(draw(payloads()), charset), f"application/json; charset={charset}"
    if kind == "html":
        page = f"<html><head><title>502 {echo}</title></head><body>{echo}</body></html>"
        return page.encode(charset), "text/html"
    if kind == "text":
        return f"{draw(st.text(max_size=50))} {echo}".encode(charset), f"text/plain; charset={charset}"
    if kind == "binary":
        return draw(st.binary(max_size=2048)), draw(st.sampled_from(["application/octet-stream", "application/json"]))
    if kind == "deep":
        return b"[" * draw(st.integers(1_000, 200_000)), "application/json"
    if kind == "big":
        return b'{"pad": "' + b"x" * draw(st.integers(60_000, 300_000)) + b'"}', "application/json"
    if kind == "nan":
        return b'{"id": "gpt-x", "object": "model", "created": NaN, "owned_by": Infinity}', "application/json"
    return b"", draw(st.sampled_from(["application/json", "text/plain", ""]))


def _encode(body: bytes, coding: str) -> tuple[bytes, str | None]:
    if coding == "gzip":
        return gzip.compress(body), "gzip"
    if coding == "gzip, gzip":
        return gzip.compress(gzip.compress(body)), "gzip, gzip"
    if coding == "deflate":
        return zlib.compress(body), "deflate"
    if coding == "bomb":
        return BOMB, "gzip"
    if coding == "lying gzip":
        return body, "gzip"
    if coding == "unknown":
        return body, "x-squash"
    return body, None


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    """One hostile answer."""
    status = draw(st.sampled_from(STATUSES))
    body, content_type = draw(bodies())
    body, coding = _encode(
        body,
        draw(
            st.sampled_from(
                ["identity"] * 4 + ["gzip", "gzip, gzip", "deflate"] * 2 + ["bomb", "lying gzip", "unknown"]
            )
        ),
    )
    headers = {"content-type": content_type} if content_type else {}
    if coding:
        headers["content-encoding"] = coding
    if draw(st.booleans()):
        headers["x-request-id"] = f"req_{draw(st.sampled_from(list(KEY_FORMS.values())))}"
    if draw(st.booleans()):
        headers["content-length"] = str(draw(st.sampled_from([0, len(body), len(body) + 10, 2**40])))
    headers.update(draw(st.sampled_from([{}, {"retry-after": "999999"}, {"x-should-retry": "maybe"}])))
    chunks = draw(st.integers(1, 8))
    cut_after = draw(st.none() | st.integers(0, max(len(body) - 1, 0))) if draw(st.integers(0, 5)) == 0 else None
    return Answer(status, headers, body, chunks, cut_after)


@st.composite
def pages(draw: st.DrawFn) -> list[Answer]:
    """A listing of up to 5 pages whose cursors may repeat, each page maybe replaced by a hostile answer."""
    count = draw(st.integers(1, 5))
    answers_ = []
    for index in range(count):
        ids = draw(st.lists(st.sampled_from(["f-1", "f-2", "f-3", f"f-{index}"]), max_size=3))
        page = {"object": "list", "data": [{"id": item} for item in ids], "has_more": draw(st.booleans())}
        if draw(st.booleans()):
            page["last_id"] = draw(st.sampled_from([*ids, "f-1", SENTINEL_KEY])) if ids else "f-1"
        hostile = draw(answers()) if draw(st.integers(0, 4)) == 0 else None
        answers_.append(hostile or Answer(200, {"content-type": "application/json"}, json.dumps(page).encode()))
    return answers_


def _call(hook: Any, kind: str, mode: str, tmp: Path) -> Any:
    """Run one call of ``kind``; return its result."""
    specs = {
        "schema": RequestSpec("GET", "models/gpt-x", response=Model, max_bytes=64 * 1024),
        "json": RequestSpec("POST", "chat/completions", json={"model": "m"}, max_bytes=64 * 1024),
        "raw": RequestSpec("GET", "anything", max_bytes=64 * 1024),
        "pages": RequestSpec("GET", "files", listing=True, max_bytes=64 * 1024),
        "download": RequestSpec("GET", "files/f-1/content", max_bytes=64 * 1024),
        "upload": RequestSpec("POST", "files", data={"purpose": "batch"}, files=(FilePart("file", tmp / "in.jsonl"),)),
    }
    spec = specs[kind]
    method = {"schema": "request", "json": "request", "raw": "send", "pages": "paginate", "upload": "request"}.get(
        kind, "download"
    )
    args = (spec, tmp / "out.bin") if kind == "download" else (spec,)
    if mode == "sync":
        return getattr(hook, method)(*args)
    return asyncio.run(getattr(hook, f"a{method}")(*args))


def _check_result(kind: str, result: Any, tmp: Path) -> None:
    if kind == "schema":
        Model.model_validate(result)
    elif kind == "pages":
        assert isinstance(result, list) and all(isinstance(item, dict) for item in result)
    elif kind == "download":
        assert result == tmp / "out.bin" and result.is_file()
    elif kind == "raw":
        assert 200 <= result.status_code < 300
    else:
        json.dumps(result)


def _shown(value: Any) -> str:
    """What a value shows, with NUL bytes dropped (UTF-16 text in a str still spells the key)."""
    return f"{value!s} {value!r}".replace("\x00", "").replace("\\x00", "")


def _leaked(text: str) -> list[str]:
    return [name for name, form in (*KEY_FORMS.items(), ("secret part", SECRET_PART)) if form in text]


class _Lines(logging.Handler):
    """Every record of the provider's loggers, formatted with its arguments."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.exc_text or ''}")


@pytest.fixture
def log_lines() -> Iterator[_Lines]:
    logger = logging.getLogger("airflow_provider_openai_fusion")
    handler, level, propagate = _Lines(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "in.jsonl").write_bytes(b'{"custom_id": "1"}\n')
    return folder


@pytest.mark.timeout(300)
@settings(
    max_examples=200,
    deadline=3000,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(
    kind=st.sampled_from(KINDS),
    mode=st.sampled_from(["sync", "async"]),
    script=st.one_of(answers().map(lambda answer: [answer]), pages()),
)
def test_any_hostile_answer_ends_bounded_as_a_result_or_a_provider_error_without_the_key(
    make_hook: Any, tmp: Path, log_lines: _Lines, kind: str, mode: str, script: list[Answer]
) -> None:
    log_lines.lines.clear()
    (tmp / "out.bin").unlink(missing_ok=True)
    server = Server(script)
    hook = make_hook(server, timeout=TIMEOUT)
    started = time.monotonic()
    result: Any = None
    error: BaseException | None = None
    try:
        result = _call(hook, kind, mode, tmp)
    except APIError as exc:
        error = exc
    finally:
        hook.close()

    assert time.monotonic() - started < TIMEOUT
    assert len(server.requests) <= (len(script) + 1 if kind == "pages" else 1)
    if error is None:
        _check_result(kind, result, tmp)
    shown = " ".join([_shown(result), *log_lines.lines]).replace("\x00", "")
    shown += " ".join(_shown(exc) + _shown(getattr(exc, "request_id", "")) for exc in chain(error))
    assert not _leaked(shown), (_leaked(shown), shown[:2000])

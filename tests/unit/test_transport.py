"""The drivers behind hook.request / hook.arequest: retry policy, transport errors, redirects, upload, download."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.api import files
from airflow_provider_openai_fusion.exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from tests.conftest import SENTINEL_KEY
from tests.unit.helpers import Script, error, ok, raises, send

SPEC = RequestSpec("GET", "models")
MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_retryable_status_is_retried_then_succeeds(make_hook, mode: str, status: int) -> None:
    script = Script(error(status, retry_after_ms="1"), error(status, retry_after_ms="1"), ok({"id": "answer"}))
    hook = make_hook(script, max_retries=2)

    assert await send(hook, SPEC, mode) == {"id": "answer"}
    assert script.attempts == 3


@MODES
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
    ],
)
async def test_non_retryable_status_fails_at_once(make_hook, mode: str, status: int, cls: type) -> None:
    script = Script(error(status, "nope", retry_after_ms="1"), ok())
    hook = make_hook(script, max_retries=3)

    with raises(cls) as info:
        await send(hook, SPEC, mode)

    assert script.attempts == 1
    assert isinstance(info.value, AirflowFailException)
    assert info.value.status_code == status
    assert info.value.message == "nope"


@MODES
@pytest.mark.parametrize("max_retries", [0, 2])
@pytest.mark.parametrize(
    ("status", "cls"),
    [(429, RateLimitError), (409, ConflictError), (500, InternalServerError), (503, InternalServerError)],
)
async def test_exhausted_retries_raise_a_retryable_error(
    make_hook, mode: str, max_retries: int, status: int, cls: type
) -> None:
    script = Script(error(status, "busy", retry_after_ms="1"))
    hook = make_hook(script, max_retries=max_retries)

    with raises(cls) as info:
        await send(hook, SPEC, mode)

    assert script.attempts == max_retries + 1
    assert not isinstance(info.value, AirflowFailException)
    assert info.value.status_code == status
    assert "busy" in str(info.value)


@MODES
@pytest.mark.parametrize(
    ("failure", "cls"),
    [(httpx.ConnectError("connection refused"), APIConnectionError), (httpx.ReadTimeout("timed out"), APITimeoutError)],
)
async def test_transport_failures_are_retried_then_raise_a_typed_error(
    make_hook, mode: str, failure: Exception, cls: type
) -> None:
    script = Script(failure)
    hook = make_hook(script, max_retries=1)

    with raises(cls) as info:
        await send(hook, SPEC, mode)

    assert script.attempts == 2
    assert type(info.value) is cls
    assert f"{type(failure).__name__}: {failure}" in str(info.value)
    assert info.value.__suppress_context__, "the transport's own text is never chained"
    assert not isinstance(info.value, AirflowFailException)


@MODES
async def test_a_connection_error_then_an_answer_succeeds(make_hook, mode: str) -> None:
    script = Script(httpx.ConnectError("connection reset"), ok({"id": "answer"}))
    hook = make_hook(script, max_retries=1)

    assert await send(hook, SPEC, mode) == {"id": "answer"}
    assert script.attempts == 2


@MODES
async def test_x_should_retry_true_retries_a_400(make_hook, mode: str) -> None:
    script = Script(error(400, x_should_retry="true", retry_after_ms="1"), ok({"id": "answer"}))
    hook = make_hook(script, max_retries=2)

    assert await send(hook, SPEC, mode) == {"id": "answer"}
    assert script.attempts == 2


@MODES
async def test_x_should_retry_false_stops_a_503(make_hook, mode: str) -> None:
    script = Script(error(503, "down", x_should_retry="false", retry_after_ms="1"), ok())
    hook = make_hook(script, max_retries=2)

    with raises(InternalServerError):
        await send(hook, SPEC, mode)
    assert script.attempts == 1


@MODES
async def test_retry_after_zero_replaces_the_backoff(make_hook, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_openai_fusion")
    script = Script(error(503, Retry_After="0"), error(429, Retry_After="0"), ok())
    hook = make_hook(script, max_retries=2)

    await send(hook, SPEC, mode)

    assert script.attempts == 3
    delays = re.findall(r"Retrying GET \S+ in ([\d.]+) s", caplog.text)
    assert delays == ["0.00", "0.00"], "the backoff (at least 0.375 s + 0.75 s) was used instead"


@MODES
async def test_a_redirect_is_not_followed(make_hook, mode: str) -> None:
    script = Script(httpx.Response(302, headers={"Location": "https://elsewhere.test/steal"}), ok())
    hook = make_hook(script, max_retries=2)

    with raises(APIStatusError) as info:
        await send(hook, SPEC, mode)

    assert info.value.status_code == 302
    assert [str(r.url) for r in script.requests] == ["https://api.test/v1/models"]


def _file_part(request: httpx.Request) -> bytes:
    boundary = request.headers["content-type"].split("boundary=", 1)[1].encode()
    parts = [p for p in request.content.split(b"--" + boundary) if b'name="file"' in p]
    assert len(parts) == 1
    _, _, body = parts[0].partition(b"\r\n\r\n")
    assert body.endswith(b"\r\n")
    return body[:-2]


@MODES
async def test_a_retried_upload_resends_the_whole_file(make_hook, tmp_path: Path, mode: str) -> None:
    data = os.urandom(300_000)
    source = tmp_path / "train.jsonl"
    source.write_bytes(data)
    script = Script(error(503, retry_after_ms="1"), ok({"id": "file-1", "object": "file"}))
    hook = make_hook(script, max_retries=1)

    if mode == "sync":
        answer = hook.request(files.upload_file(source, "fine-tune"))
    else:
        answer = await hook.arequest(files.upload_file(source, "fine-tune"))

    assert answer["id"] == "file-1"
    assert script.attempts == 2
    assert [_file_part(r) for r in script.requests] == [data, data]
    assert all(b'name="purpose"\r\n\r\nfine-tune\r\n' in r.content for r in script.requests)


class _Body(httpx.SyncByteStream):
    def __init__(self, data: bytes, break_after: int | None = None) -> None:
        self.data = data
        self.break_after = break_after

    def __iter__(self) -> Iterator[bytes]:
        if self.break_after is None:
            yield from (self.data[i : i + 65536] for i in range(0, len(self.data), 65536))
            return
        yield self.data[: self.break_after]
        raise httpx.ReadError("connection reset by peer")


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, data: bytes, break_after: int | None = None) -> None:
        self.sync = _Body(data, break_after)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.sync:
            yield chunk


def _body(mode: str, data: bytes, break_after: int | None = None) -> httpx.Response:
    stream = _Body(data, break_after) if mode == "sync" else _AsyncBody(data, break_after)
    return httpx.Response(200, stream=stream, headers={"content-type": "application/octet-stream"})


async def _download(hook, mode: str, target: Path, observer: _Observer | None = None) -> Path:
    if mode == "sync":
        return hook.download(files.retrieve_file_content("file-1"), target, observer=observer)
    return await hook.adownload(files.retrieve_file_content("file-1"), target, observer=observer)


class _Observer:
    """What a download's observer saw: one list of pieces per attempt."""

    def __init__(self) -> None:
        self.attempts: list[list[bytes]] = []

    def restart(self) -> None:
        self.attempts.append([])

    def feed(self, piece: bytes) -> None:
        self.attempts[-1].append(piece)


@MODES
async def test_download_streams_the_body_to_the_target(make_hook, tmp_path: Path, mode: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    script = Script(_body(mode, data))
    target = tmp_path / "out" / "content.bin"

    assert await _download(make_hook(script), mode, target) == target

    assert target.read_bytes() == data
    assert [p.name for p in target.parent.iterdir()] == ["content.bin"]
    assert script.requests[0].url.path == "/v1/files/file-1/content"


@MODES
async def test_a_download_broken_mid_body_leaves_no_file(make_hook, tmp_path: Path, mode: str) -> None:
    script = Script(_body(mode, os.urandom(200_000), break_after=100_000))

    with raises(APIConnectionError):
        await _download(make_hook(script), mode, tmp_path / "content.bin")

    assert list(tmp_path.iterdir()) == []


@MODES
async def test_a_download_broken_mid_body_restarts_whole(make_hook, tmp_path: Path, mode: str) -> None:
    data = os.urandom(200_000)
    script = Script(_body(mode, data, break_after=150_000), _body(mode, data))
    target = tmp_path / "content.bin"

    observer = _Observer()
    await _download(make_hook(script, max_retries=1), mode, target, observer)

    assert script.attempts == 2
    assert target.read_bytes() == data
    assert [b"".join(pieces) for pieces in observer.attempts] == [data[:150_000], data]
    assert [p.name for p in tmp_path.iterdir()] == ["content.bin"]


@MODES
async def test_answer_headers_are_read_as_httpx_joins_them_and_redacted(make_hook, mode: str) -> None:
    """Names in lower case, a repeated header joined by ', ', a Latin-1 value decoded, an echoed key replaced."""
    headers = [
        ("X-Multi", "a"),
        ("x-multi", "b"),
        ("X-Echo", f"id {SENTINEL_KEY}"),
        ("X-Latin", "café".encode("latin-1")),
        ("x-request-id", f"req_{SENTINEL_KEY}"),
    ]
    hook = make_hook(lambda request: httpx.Response(200, json={"id": "answer"}, headers=headers))

    answer = hook.send(SPEC) if mode == "sync" else await hook.asend(SPEC)

    assert answer.body == {"id": "answer"}
    assert {name: answer.headers[name] for name in ("x-multi", "x-echo", "x-latin", "x-request-id")} == {
        "x-multi": "a, b",
        "x-echo": "id ***",
        "x-latin": "café",
        "x-request-id": "req_***",
    }

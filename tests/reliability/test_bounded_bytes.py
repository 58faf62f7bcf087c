"""
What a server sends is bounded by what the call can use: stacked or unknown ``Content-Encoding`` is refused before
it expands, one decoding step yields at most 1 MiB, and a download stops at its file's declared size (plus a
slack) and at a time ceiling that its own bytes cannot push back.
"""

from __future__ import annotations

import functools
import gzip
import re
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion._http.transport import DECLARED_SLACK
from airflow_provider_openai_fusion.api import files
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, APITimeoutError, InternalServerError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from tests.reliability.conftest import SLACK, run_both
from tests.reliability.fault_server import Endless, FaultServer, Reply

MODES = ["sync", "async"]
MiB = 1 << 20
SPEC = RequestSpec("GET", "models/m1")


def _peak_rss_reset() -> float:
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


def _status_mib(field: str) -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1)) / 1024  # type: ignore[union-attr]


@functools.cache
def _double_gzip() -> bytes:
    """600 MiB of JSON, gzipped twice: a few hundred bytes on the wire."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"0" * MiB
    parts = [inner.compress(b'{"id": "')] + [inner.compress(chunk) for _ in range(600)]
    parts += [inner.compress(b'"}'), inner.flush()]
    return gzip.compress(b"".join(parts), compresslevel=9)


def _call(mode: str, hook: OpenAIFusionHook, spec: RequestSpec = SPEC) -> object:
    return run_both(mode, hook, lambda h: h.request(spec), lambda h: h.arequest(spec))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [200, 503])
def test_a_stacked_gzip_answer_is_refused_before_it_expands(
    mode: str, status: int, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """``Content-Encoding: gzip, gzip`` (600 MiB in about 1 KB): refused unread; an error answer keeps its status."""
    body = _double_gzip()
    assert len(body) < 2048
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip, gzip", "x-request-id": "req_gz2"}
    server.script(Reply(status, {**headers, "Retry-After": "0"}, body))
    before = _peak_rss_reset()
    with pytest.raises(APIResponseValidationError if status == 200 else InternalServerError) as caught:
        _call(mode, hook_at(server.base_url, max_retries=1))
    growth = _status_mib("VmHWM") - before
    assert growth < 32, f"peak RSS grew {growth:.0f} MiB"
    if status == 200:
        assert "encoded 2 times (Content-Encoding: gzip, gzip); at most one coding" in str(caught.value)
        assert caught.value.request_id == "req_gz2"
        assert server.attempts == 1
    else:
        assert caught.value.status_code == 503
        assert server.attempts == 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("coding", ["br", "zstd", "compress"])
def test_a_coding_the_client_did_not_ask_for_is_refused(
    mode: str, coding: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    server.script(Reply(200, {"Content-Type": "application/json", "Content-Encoding": coding}, b"\x00" * 64))
    with pytest.raises(APIResponseValidationError, match=f"Content-Encoding '{coding}', which the client did not"):
        _call(mode, hook_at(server.base_url))
    assert server.attempts == 1
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("coding,wbits", [("gzip", 31), ("deflate", 15), ("deflate", -15), ("identity", 0)])
def test_one_coding_is_decoded(
    mode: str, coding: str, wbits: int, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """gzip, deflate (zlib-wrapped, and raw as some servers send it) and identity: decoded whole, 3 MiB of it."""
    payload = b'{"id": "m1", "object": "model", "padding": "' + b"y" * (3 * MiB) + b'"}'
    if wbits:
        compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
        data = compressor.compress(payload) + compressor.flush()
    else:
        data = payload
    server.script(Reply(200, {"Content-Type": "application/json", "Content-Encoding": coding}, data))
    assert _call(mode, hook_at(server.base_url))["padding"] == "y" * (3 * MiB)  # type: ignore[index]


@pytest.mark.parametrize("mode", MODES)
def test_corrupt_or_cut_gzip_is_refused(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    data = gzip.compress(b'{"id": "m1"}' * 1000)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    server.script(Reply(200, headers, data[: len(data) // 2]), Reply(200, headers, b"\x1f\x8b" + b"\xff" * 40))
    hook = hook_at(server.base_url)
    with pytest.raises(APIResponseValidationError, match="ends in the middle of its gzip data"):
        _call(mode, hook)
    with pytest.raises(APIResponseValidationError, match="is not valid gzip data"):
        _call(mode, hook)


@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_bomb_is_refused_within_one_step(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """A 24 MiB bomb is refused within one 1 MiB decoding step past 8 MiB (httpx alone: one 64 KiB read, 66 MB)."""
    bomb = gzip.compress(b'{"id": "' + b"0" * (24 * MiB) + b'"}', compresslevel=9)
    server.script(Reply(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb))
    with pytest.raises(APIResponseValidationError, match="decompression bomb") as caught:
        _call(mode, hook_at(server.base_url))
    expanded = int(re.search(r"to more than ([\d,]+)", str(caught.value)).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 8 * MiB < expanded <= 9 * MiB


@pytest.mark.parametrize("mode", MODES)
def test_an_endless_download_stops_at_the_declared_size(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    """The file object says 1 MiB; the server streams forever (as fast as it can): refused past 1 MiB + slack."""
    endless = Endless()
    server.script(endless)
    spec, target = files.retrieve_file_content("file-1"), tmp_path / "content.jsonl"
    started = time.monotonic()
    with pytest.raises(APIResponseValidationError, match="larger than the 1,048,576 bytes the file is declared"):
        run_both(
            mode,
            hook_at(server.base_url, timeout=2.0),
            lambda h: h.download(spec, target, size=MiB),
            lambda h: h.adownload(spec, target, size=MiB),
        )
    assert time.monotonic() - started < 10
    assert server.attempts == 1
    assert list(tmp_path.iterdir()) == []
    limit = MiB + MiB // 100 + DECLARED_SLACK
    assert limit < endless.sent <= limit + 8 * MiB  # what was in flight in the socket buffers, not more


@pytest.mark.parametrize("mode", MODES)
def test_a_download_that_keeps_coming_meets_its_ceiling(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    """
    128 KiB/s forever, no declared size: each chunk used to buy the attempt more time (a 2 s timeout ran 10.8 s and
    would have run until 8 GB). The download's ceiling (here 2 s) ends it, whatever keeps coming.
    """
    server.script(Endless(b"z" * 8192, interval=1 / 16))
    spec, target = files.retrieve_file_content("file-1"), tmp_path / "content.jsonl"
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        run_both(
            mode,
            hook_at(server.base_url, timeout=1.0, max_retries=0),
            lambda h: h.download(spec, target, max_seconds=2.0),
            lambda h: h.adownload(spec, target, max_seconds=2.0),
        )
    assert 1.9 <= time.monotonic() - started <= 2.0 + SLACK
    assert server.attempts == 1
    assert list(tmp_path.iterdir()) == []

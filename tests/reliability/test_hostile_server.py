"""
Hostile servers: every call is bounded in time, bytes and pages, whatever a server (or a proxy in the Base URL)
answers. Each case runs against a fault server on 127.0.0.1 that misbehaves exactly so, and asserts the bound
(seconds, bytes or requests) and the error; sync and async where the drivers differ.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import itertools
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion._waiting import WaitGaveUp, Watch, drive
from airflow_provider_openai_fusion.api import files, models
from airflow_provider_openai_fusion.api.fine_tuning import FINE_TUNING_JOBS, MAX_EVENT_PAGES
from airflow_provider_openai_fusion.exceptions import (
    APIResponseValidationError,
    APITimeoutError,
    InternalServerError,
)
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators.custom import OpenAICustomAPICallOperator
from airflow_provider_openai_fusion.operators.images import OpenAIGenerateImageOperator
from airflow_provider_openai_fusion.sensors.fine_tuning import OpenAIFineTuningJobSensor
from tests.reliability.conftest import SLACK, run_both
from tests.reliability.fault_server import FaultServer, Reply, Request, Stall, Trickle, gzip_reply, json_reply

MODES = ["sync", "async"]
MiB = 1 << 20
SPEC = RequestSpec("GET", "models/m1")
BODY = json.dumps({"id": "m1", "object": "model", "padding": "x" * 200}).encode()
log = logging.getLogger("tests.hostile")


@functools.cache
def _bomb() -> bytes:
    """24 MiB of JSON compressed about 1000:1."""
    return gzip.compress(b'{"id": "' + b"0" * (24 * MiB) + b'"}', compresslevel=9)


def _timed(call: Callable[[], object]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("head", [True, False], ids=["status line and headers", "body"])
def test_a_trickle_is_cut_at_the_attempt_deadline(
    mode: str, head: bool, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """One byte every 50 ms never trips a 1 s read timeout; the whole answer would take 15 s. Cut at 1 s."""
    server.script(Trickle(BODY, interval=0.05, head=head))
    hook = hook_at(server.base_url, timeout=1.0, max_retries=0)
    elapsed, error = _timed(lambda: run_both(mode, hook, lambda h: h.request(SPEC), lambda h: h.arequest(SPEC)))
    assert isinstance(error, APITimeoutError), error
    assert 0.9 <= elapsed <= 1.0 + SLACK, elapsed
    assert server.attempts == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_trickle_is_retried_each_time_within_its_own_deadline(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    server.script(Trickle(BODY, interval=0.05), json_reply(200, {"id": "m1"}))
    hook = hook_at(server.base_url, timeout=0.8, max_retries=1)
    started = time.monotonic()
    assert run_both(mode, hook, lambda h: h.request(SPEC), lambda h: h.arequest(SPEC)) == {"id": "m1"}
    assert 0.8 <= time.monotonic() - started <= 1.6 + SLACK
    assert server.attempts == 2


@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_bomb_is_refused_by_its_ratio(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """
    About 25 KB that expands to 24 MiB: refused once the output passes 8 MiB at over 200:1, not retried. The body
    is decoded in steps of at most 1 MiB (test_bounded_bytes.py holds the tighter bound).
    """
    server.script(dataclasses.replace(gzip_reply(b"", x_request_id="req_bomb"), body=_bomb()))
    with pytest.raises(APIResponseValidationError) as raised:
        run_both(mode, hook_at(server.base_url), lambda h: h.request(SPEC), lambda h: h.arequest(SPEC))
    error = raised.value
    assert "decompression bomb" in str(error) and error.request_id == "req_bomb"
    expanded = int(re.search(r"to more than ([\d,]+)", str(error)).group(1).replace(",", ""))
    assert 8 * MiB < expanded <= 64 * 1024 * 1032, "refused within one read past 8 MiB of output"
    assert server.attempts == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_download_bomb_leaves_no_file(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    target = tmp_path / "content.jsonl"
    reply = gzip_reply(b"", "application/octet-stream")
    server.script(dataclasses.replace(reply, body=_bomb()))
    spec = files.retrieve_file_content("file-1")
    with pytest.raises(APIResponseValidationError, match="decompression bomb"):
        run_both(
            mode, hook_at(server.base_url), lambda h: h.download(spec, target), lambda h: h.adownload(spec, target)
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sink", ["json", "download"])
def test_answers_are_capped_in_bytes(
    mode: str, sink: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    """
    The cap of a call (256 MiB for JSON; 8 GiB for file content, as large as a file uploaded in parts can be) here
    lowered to 1 MiB.
    """
    assert (SPEC.max_bytes, files.retrieve_file_content("f").max_bytes) == (256 * MiB, 8 * 1024 * MiB)
    server.script(Reply(200, {"Content-Type": "application/json"}, b'"' + b"x" * (3 * MiB) + b'"'))
    spec = dataclasses.replace(SPEC, max_bytes=MiB)
    target = tmp_path / "out"
    if sink == "json":
        calls = (lambda h: h.request(spec), lambda h: h.arequest(spec))
    else:
        calls = (lambda h: h.download(spec, target), lambda h: h.adownload(spec, target))
    with pytest.raises(APIResponseValidationError, match="larger than the 1,048,576-byte cap"):
        run_both(mode, hook_at(server.base_url), *calls)
    assert server.attempts == 1
    assert list(tmp_path.iterdir()) == []


def test_custom_call_answers_over_16_mib_fail_instead_of_filling_xcom(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    server.script(Reply(200, {"Content-Type": "text/plain"}, b"x" * (17 * MiB)))
    operator = OpenAICustomAPICallOperator(task_id="custom", url="big")
    operator.hook = hook_at(server.base_url)
    with pytest.raises(APIResponseValidationError, match="16,777,216-byte cap"):
        operator.execute(context={})
    assert server.attempts == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_repeated_cursor_ends_the_listing(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """Stopped at the second page; without the cursor check the page cap (pages taken) would still end it."""
    server.script(json_reply(200, {"object": "list", "data": [{"id": "m1"}], "has_more": True}))
    hook = hook_at(server.base_url)
    with pytest.raises(APIResponseValidationError, match=r"repeated the page cursor 'm1' .* after 2 pages"):
        run_both(mode, hook, lambda h: h.paginate(models.list_models()), lambda h: h.apaginate(models.list_models()))
    assert server.attempts == 2
    ok, message = hook_at(server.base_url).test_connection()
    assert not ok and "repeated the page cursor" in message
    assert server.attempts == 4


@pytest.mark.parametrize("mode", MODES)
def test_a_listing_that_never_ends_stops_at_the_page_cap(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    counter = itertools.count()
    server.script(lambda request: json_reply(200, {"data": [{"id": f"m{next(counter)}"}], "has_more": True}))
    with pytest.raises(APIResponseValidationError, match="still had more after 1000 pages"):
        run_both(
            mode,
            hook_at(server.base_url),
            lambda h: h.paginate(models.list_models()),
            lambda h: h.apaginate(models.list_models()),
        )
    assert server.attempts == 1000


def test_one_look_at_a_fine_tuning_job_reads_at_most_50_event_pages(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    counter = itertools.count()

    def answer(request: Request) -> Reply:
        if request.target.endswith("/events") or "/events?" in request.target:
            return json_reply(200, {"data": [{"id": f"ev{next(counter)}", "message": "m"}], "has_more": True})
        return json_reply(200, {"id": "ftjob-1", "status": "running"})

    server.script(answer)
    hook = hook_at(server.base_url)
    job = drive(Watch(FINE_TUNING_JOBS, "ftjob-1", log).look(), hook.request)
    assert job["status"] == "running"
    assert server.attempts == 1 + MAX_EVENT_PAGES == 51


@pytest.mark.parametrize("mode", MODES)
def test_error_pages_are_read_up_to_64_kib_and_parsed_in_linear_time(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """A 502 of `<title>` repeated (quadratic for a naive parser) and 32 MiB long: only 64 KiB is read."""
    page = b"<html>" + b"<title>" * (32 * MiB // 7)
    server.script(Reply(502, {"Content-Type": "text/html", "x-request-id": "req_slow"}, page))
    elapsed, error = _timed(
        lambda: run_both(
            mode, hook_at(server.base_url, max_retries=0), lambda h: h.request(SPEC), lambda h: h.arequest(SPEC)
        )
    )
    assert isinstance(error, InternalServerError) and error.request_id == "req_slow", error
    assert "HTTP 502 with an HTML page" in str(error)
    assert len(str(error)) < 2500
    assert elapsed < 1.5 + SLACK, elapsed


def _failing(server: FaultServer) -> None:
    server.script(Reply(503, {"retry-after-ms": "1", "x-request-id": "req_down"}, b"down"))


def test_the_operator_wait_backs_off_and_gives_up_after_10_errors(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    _failing(server)
    hook = hook_at(server.base_url, max_retries=0)
    watch = Watch(FINE_TUNING_JOBS, "ftjob-1", log)
    naps: list[float] = []
    with pytest.raises(WaitGaveUp, match=r"gave up after 10 failed checks in a row; the last: .*req_down"):
        drive(watch.until_done(0.01, None), hook.request, naps.append)
    assert server.attempts == 10
    assert len(naps) == 9 and naps == sorted(naps) and naps[-1] >= 0.01 * 2**8 * 0.75, naps


def test_a_poking_sensor_gives_up_after_10_errors_in_a_row(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    _failing(server)
    sensor = OpenAIFineTuningJobSensor(task_id="wait", job_id="ftjob-1")
    sensor.hook = hook_at(server.base_url, max_retries=0)
    assert [sensor.poke(context={}) for _ in range(9)] == [False] * 9
    with pytest.raises(WaitGaveUp, match="gave up after 10"):
        sensor.poke(context={})
    assert server.attempts == 10


def test_more_images_than_asked_are_refused_before_writing(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    server.script(json_reply(200, {"created": 1, "data": [{"b64_json": png}] * 3}))
    operator = OpenAIGenerateImageOperator(task_id="draw", prompt="a cat", n=1, output_path=str(tmp_path / "out"))
    operator.hook = hook_at(server.base_url)
    with pytest.raises(APIResponseValidationError, match="holds 3 images, 1 were asked for; nothing was written"):
        operator.execute(context={})
    assert server.attempts == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("mode", MODES)
def test_an_upload_the_server_never_reads_is_cut_at_the_attempt_deadline(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    """The server reads the request head, then neither reads the 64 MiB body nor answers: sending blocks."""
    source = tmp_path / "train.jsonl"
    with source.open("wb") as handle:
        handle.truncate(64 * MiB)
    server.read_bodies = False
    server.script(Stall(head=False, seconds=10))
    spec = files.upload_file(source, "fine-tune")
    hook = hook_at(server.base_url, timeout=1.0, max_retries=0)
    elapsed, error = _timed(lambda: run_both(mode, hook, lambda h: h.request(spec), lambda h: h.arequest(spec)))
    assert isinstance(error, APITimeoutError), error
    assert 0.9 <= elapsed <= 1.0 + SLACK, elapsed
    assert server.attempts == 1

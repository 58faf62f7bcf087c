"""
The fault matrix: each scripted fault, through the sync and the async client, with its expected outcome and
the number of attempts the server saw (or, for a refused connection, the retries the hook logged).
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate

import pytest

from airflow_provider_openai_fusion.api import chat
from airflow_provider_openai_fusion.exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from tests.conftest import ROOT, SENTINEL_KEY
from tests.reliability.conftest import SLACK, run_both
from tests.reliability.fault_server import (
    FaultServer,
    Reply,
    Request,
    ResetBeforeResponse,
    ResetMidBody,
    Responder,
    Stall,
    Truncated,
    free_port,
    json_reply,
    openai_error,
)

COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "message": {"content": "hi"}}]}
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
OK = json_reply(200, COMPLETION, x_request_id="req_ok")
RAW_OK = OK.body
HTML_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    b"<hr><center>nginx</center></body></html>"
)


def fast(status: int) -> Reply:
    """An error answer that asks for a 10 ms wait, so the test does not sit out the backoff."""
    return openai_error(
        status, f"status {status}", "server_error", None, retry_after_ms="10", x_request_id=f"req_{status}"
    )


def http_date_in(seconds: float) -> Callable[[Request], Reply]:
    """A 429 whose Retry-After is an HTTP date ``seconds`` ahead of when the request arrives."""
    return lambda request: Reply(429, {"Retry-After": formatdate(time.time() + seconds, usegmt=True)})


@dataclass(frozen=True)
class Case:
    """
    One row of the matrix. ``delays``: the range of each retry's pause, as the transport logs it (what the code
    decided: exact, whatever the machine's load); ``wait``: the wall-clock window of the whole call, whose upper
    end gets :data:`~tests.reliability.conftest.SLACK`.
    """

    fault: str
    script: tuple[Responder, ...]
    attempts: int
    error: type[APIError] | None = None
    max_retries: int = 2
    timeout: float = 5.0
    wait: tuple[float, float] | None = None
    request_id: str | None = None
    refused: bool = False
    delays: tuple[tuple[float, float], ...] | None = None


CASES = [
    Case(
        "429 with Retry-After: 1 (seconds), then 200",
        (Reply(429, {"Retry-After": "1"}), OK),
        2,
        wait=(0.95, 1.9),
        delays=((1.0, 1.0),),
    ),
    Case(
        "429 with retry-after-ms: 150, then 200",
        (Reply(429, {"retry-after-ms": "150"}), OK),
        2,
        wait=(0.14, 0.9),
        delays=((0.15, 0.15),),
    ),
    Case(
        "429 with Retry-After as an HTTP date 2 s ahead, then 200",
        (http_date_in(2), OK),
        2,
        wait=(0.9, 2.7),
        delays=((0.5, 2.0),),
    ),
    Case("429 every time", (fast(429),), 3, RateLimitError, request_id="req_429", delays=((0.01, 0.01),) * 2),
    *(
        Case(f"{status} twice, then 200", (fast(status), fast(status), OK), 3, delays=((0.01, 0.01),) * 2)
        for status in (500, 502, 503, 504)
    ),
    Case(
        "503 twice without Retry-After (exponential backoff 0.5 s, 1 s, jitter -25 %), then 200",
        (Reply(503), Reply(503), OK),
        3,
        wait=(1.1, 2.2),
        delays=((0.375, 0.5), (0.75, 1.0)),
    ),
    Case("503 every time", (fast(503),), 3, InternalServerError, request_id="req_503", delays=((0.01, 0.01),) * 2),
    Case("connection refused", (), 2, APIConnectionError, max_retries=1, refused=True),
    Case("connection reset before the response, once", (ResetBeforeResponse(), OK), 2),
    Case("connection reset before the response, every time", (ResetBeforeResponse(),), 2, APIConnectionError, 1),
    Case("connection reset in the middle of the body, once", (ResetMidBody(RAW_OK, 20), OK), 2),
    Case(
        "read timeout: the body stalls (timeout 0.5 s), once",
        (Stall(RAW_OK, 20), OK),
        2,
        timeout=0.5,
        wait=(0.5, 2.0),
    ),
    Case(
        "read timeout: no answer at all (timeout 0.5 s), every time", (Stall(head=False),), 2, APITimeoutError, 1, 0.5
    ),
    Case(
        "malformed JSON with 200",
        (Reply(200, {"Content-Type": "application/json", "x-request-id": "req_bad"}, b'{"id": "chatcmpl-1",'),),
        1,
        APIResponseValidationError,
        request_id="req_bad",
    ),
    Case("truncated body (Content-Length says more), once", (Truncated(RAW_OK, 30), OK), 2),
    Case("truncated body, every time", (Truncated(RAW_OK, 30),), 2, APIConnectionError, 1),
    Case(
        "HTML error page from a proxy (502), every time",
        (Reply(502, {"Content-Type": "text/html", "x-request-id": "req_html"}, HTML_PAGE),),
        2,
        InternalServerError,
        1,
        request_id="req_html",
    ),
    Case(
        "401 with OpenAI's error JSON",
        (
            openai_error(
                401,
                "Incorrect API key provided: sk-te***cdef.",
                "invalid_request_error",
                "invalid_api_key",
                x_request_id="req_401",
            ),
        ),
        1,
        AuthenticationError,
        request_id="req_401",
    ),
    Case(
        "404 with OpenAI's error JSON",
        (
            openai_error(
                404,
                "The model 'gpt-9' does not exist",
                "invalid_request_error",
                "model_not_found",
                x_request_id="req_404",
            ),
        ),
        1,
        NotFoundError,
        request_id="req_404",
    ),
    Case(
        "503 with x-should-retry: false",
        (Reply(503, {"x-should-retry": "false", "x-request-id": "req_nope"}),),
        1,
        InternalServerError,
        request_id="req_nope",
    ),
    Case(
        "400 with x-should-retry: true, then 200",
        (Reply(400, {"x-should-retry": "true", "retry-after-ms": "10"}), OK),
        2,
    ),
]


def _create(hook: OpenAIFusionHook) -> dict:
    return hook.request(chat.create_chat_completion(BODY))


async def _acreate(hook: OpenAIFusionHook) -> dict:
    return await hook.arequest(chat.create_chat_completion(BODY))


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", CASES, ids=[case.fault for case in CASES])
def test_fault(
    case: Case,
    mode: str,
    server: FaultServer,
    hook_at: Callable[..., OpenAIFusionHook],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_openai_fusion")
    server.script(*case.script)
    base_url = f"http://127.0.0.1:{free_port()}/v1" if case.refused else server.base_url
    hook = hook_at(base_url, timeout=case.timeout, max_retries=case.max_retries)
    started = time.monotonic()
    error: APIError | None = None
    try:
        result = run_both(mode, hook, _create, _acreate)
    except APIError as exc:
        error = exc
    elapsed = time.monotonic() - started
    retries = [
        record.getMessage() for record in caplog.records if "Retrying POST chat/completions" in record.getMessage()
    ]
    assert all(message.split(" after: ", 1)[1].strip() for message in retries), "each retry says why"

    if case.error is None:
        assert error is None, error
        assert result == COMPLETION
    else:
        assert type(error) is case.error, error
        if case.request_id:
            assert error.request_id == case.request_id
            assert case.request_id in str(error)
    if case.refused:
        assert server.attempts == 0
    else:
        assert server.attempts == case.attempts
        assert all(request.json() == BODY for request in server.requests), "every attempt re-sends the whole body"
    assert len(retries) + 1 == case.attempts
    if case.delays is not None:
        delays = [float(re.search(r" in ([\d.]+) s \(retry", message).group(1)) for message in retries]
        assert len(delays) == len(case.delays)
        assert all(low <= delay <= high for delay, (low, high) in zip(delays, case.delays, strict=True)), delays
    low, high = case.wait or (0.0, 4.0)
    assert low <= elapsed <= high + SLACK, f"waited {elapsed:.2f} s, expected {low}-{high} s (+{SLACK} s slack)"
    assert SENTINEL_KEY not in str(error) + caplog.text


def test_error_texts_are_clear(server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]) -> None:
    """OpenAI's message, type, code and request id are shown; an HTML page is summarised by its title."""
    server.script(*next(case.script for case in CASES if case.fault.startswith("401")))
    with pytest.raises(AuthenticationError) as auth:
        run_both("sync", hook_at(server.base_url), _create, _acreate)
    assert str(auth.value) == (
        "OpenAI API error: Incorrect API key provided: sk-te***cdef. (status 401, type: invalid_request_error, "
        "code: invalid_api_key, request id: req_401)"
    )
    server.script(Reply(502, {"Content-Type": "text/html"}, HTML_PAGE))
    with pytest.raises(InternalServerError) as html:
        run_both("async", hook_at(server.base_url, max_retries=0), _create, _acreate)
    assert str(html.value) == "OpenAI API error: HTTP 502 with an HTML page: 502 Bad Gateway (status 502)"


def test_the_reliability_page_lists_every_fault() -> None:
    """docs/reliability.md (the reliability matrix) has a row for each case tested here."""
    page = (ROOT / "docs" / "reliability.md").read_text()
    section = page.split("## Reliability matrix", 1)[1].split("\n## ", 1)[0]
    missing = [case.fault for case in CASES if f"| {case.fault} |" not in section]
    assert not missing, missing


def test_refused_port_is_really_closed() -> None:
    """The refused case relies on nothing listening on the released port."""
    port = free_port()
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))

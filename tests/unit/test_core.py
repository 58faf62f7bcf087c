"""The I/O-free core: Retry-After parsing, backoff, the retry decision, error mapping, headers, paths."""

from __future__ import annotations

import random
from email.utils import formatdate

import httpx
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_openai_fusion._http.errors import error_from_response
from airflow_provider_openai_fusion._http.request import USER_AGENT, ClientSettings, build_headers, relative_path
from airflow_provider_openai_fusion._http.retry import (
    MAX_RETRY_AFTER,
    RetryState,
    backoff_seconds,
    is_retryable_status,
    retry_after_seconds,
)
from airflow_provider_openai_fusion.exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    RateLimitError,
)
from tests.conftest import SENTINEL_KEY
from tests.unit.helpers import raises

NOW = 1_800_000_000.0
SETTINGS = ClientSettings(base_url="https://api.test/v1", api_key=SENTINEL_KEY)


def _headers(**values: str) -> httpx.Headers:
    return httpx.Headers({name.replace("_", "-"): value for name, value in values.items()})


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (_headers(Retry_After="3"), 3.0),
        (_headers(Retry_After="0"), 0.0),
        (_headers(Retry_After="1.5"), 1.5),
        (_headers(retry_after_ms="250"), 0.25),
        (_headers(retry_after_ms="1", Retry_After="30"), 0.001),
        (_headers(retry_after_ms="soon", Retry_After="2"), 2.0),
        (_headers(Retry_After=formatdate(NOW + 5, usegmt=True)), 5.0),
        (_headers(Retry_After=str(MAX_RETRY_AFTER)), MAX_RETRY_AFTER),
    ],
)
def test_retry_after_is_read(headers: httpx.Headers, expected: float) -> None:
    assert retry_after_seconds(headers, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    "headers",
    [
        _headers(),
        _headers(Retry_After="-1"),
        _headers(retry_after_ms="-5"),
        _headers(Retry_After="soon"),
        _headers(Retry_After="nan"),
        _headers(Retry_After="inf"),
        _headers(Retry_After=str(MAX_RETRY_AFTER + 1)),
        _headers(retry_after_ms=str(int(MAX_RETRY_AFTER * 1000) + 1)),
        _headers(Retry_After=formatdate(NOW - 5, usegmt=True)),
        _headers(Retry_After=formatdate(NOW + MAX_RETRY_AFTER + 5, usegmt=True)),
        _headers(Retry_After="Mon, 32 Jan 2024 10:00:00 GMT"),
        _headers(Retry_After="Mon, 1 Jan 2024 99:99:99 GMT"),
        _headers(Retry_After="1 Jan 99999999999999999999 10:00:00"),
        _headers(Retry_After="Mon, 1 Jan 2024 10:00:00 +9999"),
        _headers(Retry_After=""),
    ],
)
def test_retry_after_falls_back_to_backoff(headers: httpx.Headers) -> None:
    assert retry_after_seconds(headers, now=NOW) is None


@pytest.mark.parametrize("retries_done", [0, 1, 2, 3, 4, 5, 10])
def test_backoff_is_exponential_with_jitter_and_capped(retries_done: int) -> None:
    base = min(0.5 * 2**retries_done, 8)
    rng = random.Random(retries_done)
    delays = [backoff_seconds(retries_done, rng) for _ in range(200)]

    assert all(0.75 * base <= delay <= base for delay in delays)
    assert min(delays) < 0.8 * base and max(delays) > 0.95 * base, "no jitter"
    assert backoff_seconds(retries_done, random.Random(7)) == backoff_seconds(retries_done, random.Random(7))


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 599])
def test_retryable_statuses(status: int) -> None:
    assert is_retryable_status(status, httpx.Headers())
    assert not is_retryable_status(status, _headers(x_should_retry="false"))


@pytest.mark.parametrize("status", [300, 302, 400, 401, 403, 404, 410, 422])
def test_non_retryable_statuses(status: int) -> None:
    assert not is_retryable_status(status, httpx.Headers())
    assert is_retryable_status(status, _headers(x_should_retry="true"))


def test_retry_state_counts_retries_then_raises_the_last_error() -> None:
    state = RetryState(max_retries=2, rng=random.Random(1))
    headers = httpx.Headers()

    first = state.after_status(429, headers, b"")
    second = state.after_status(500, _headers(retry_after_ms="20"), b"")
    with raises(InternalServerError):
        state.after_status(503, headers, b"")

    assert 0.375 <= first <= 0.5
    assert second == pytest.approx(0.02)
    assert state.retries_done == 2


def test_retry_state_maps_transport_errors() -> None:
    state = RetryState(max_retries=1, rng=random.Random(1))
    cause = httpx.ReadTimeout("slow")

    refused = httpx.ConnectError("refused")
    assert 0.375 <= state.after_transport_error(refused, timed_out=False, text="ConnectError: refused") <= 0.5
    with raises(APITimeoutError) as info:
        state.after_transport_error(cause, timed_out=True, text="ReadTimeout: slow")
    assert info.value.__cause__ is None and info.value.__suppress_context__, "the transport's text is never chained"
    assert "ReadTimeout: slow" in str(info.value)
    assert issubclass(APITimeoutError, APIConnectionError)


def test_openai_error_json_is_carried() -> None:
    body = (
        b'{"error": {"message": "Invalid value for temperature", "type": "invalid_request_error",'
        b' "code": "invalid_value", "param": "temperature"}}'
    )
    exc = error_from_response(400, _headers(x_request_id="req_123"), body)

    assert type(exc) is BadRequestError
    assert isinstance(exc, AirflowFailException)
    assert (exc.message, exc.type, exc.code, exc.param, exc.request_id, exc.status_code) == (
        "Invalid value for temperature",
        "invalid_request_error",
        "invalid_value",
        "temperature",
        "req_123",
        400,
    )
    for part in ("Invalid value for temperature", "invalid_request_error", "invalid_value", "temperature", "req_123"):
        assert part in str(exc)


def test_an_html_page_is_summarised_by_its_title() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "<p>nginx</p>" * 2000 + "</body></html>"
    exc = error_from_response(502, _headers(content_type="text/html"), page.encode())

    assert type(exc) is InternalServerError
    assert exc.message == "HTTP 502 with an HTML page: 502 Bad Gateway"
    assert "<p>" not in str(exc) and len(str(exc)) < 200


def test_an_empty_body_is_named() -> None:
    exc = error_from_response(404, httpx.Headers(), b"")

    assert type(exc) is NotFoundError
    assert exc.message == "HTTP 404 with an empty body"


def test_a_non_json_body_is_quoted_short() -> None:
    exc = error_from_response(429, _headers(content_type="text/plain"), b"slow down " * 200)

    assert type(exc) is RateLimitError
    assert exc.message.startswith("slow down")
    assert len(exc.message) <= 500


@pytest.mark.parametrize(
    ("body", "message"),
    [(b'{"error": "plain string"}', "plain string"), (b'{"detail": "from a proxy"}', "from a proxy")],
)
def test_other_json_error_shapes(body: bytes, message: str) -> None:
    assert error_from_response(400, httpx.Headers(), body).message == message


def test_an_unknown_status_gives_the_base_class() -> None:
    exc = error_from_response(302, httpx.Headers(), b"")

    assert type(exc) is APIStatusError
    assert not isinstance(exc, AirflowFailException)


def test_headers_carry_auth_user_agent_and_only_the_ids_that_are_set() -> None:
    plain = build_headers(SETTINGS)
    full = build_headers(
        ClientSettings(base_url="https://api.test/v1", api_key=SENTINEL_KEY, organization_id="org-1", project_id="p-1")
    )

    assert plain["Authorization"] == f"Bearer {SENTINEL_KEY}"
    assert plain["User-Agent"] == USER_AGENT
    assert "OpenAI-Organization" not in plain and "OpenAI-Project" not in plain
    assert full["OpenAI-Organization"] == "org-1"
    assert full["OpenAI-Project"] == "p-1"


def test_caller_headers_are_added() -> None:
    assert build_headers(SETTINGS, {"Accept": "application/octet-stream"})["Accept"] == "application/octet-stream"


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
def test_caller_headers_cannot_set_authorization(name: str) -> None:
    with raises(InvalidArgumentError) as info:
        build_headers(SETTINGS, {name: "Bearer other"})
    assert info.value.argument == "headers"


@pytest.mark.parametrize("header", [{"X-Note": "a\r\nX-Injected: 1"}, {"X-Note\n": "a"}, {"X-Note": "a\x00"}])
def test_control_characters_in_headers_are_refused(header: dict[str, str]) -> None:
    with raises(InvalidArgumentError) as info:
        build_headers(SETTINGS, header)
    assert info.value.argument == "headers"


@pytest.mark.parametrize(
    "path",
    ["https://evil.test/v1/models", "//evil.test/x", "../admin", "files/%2e%2e/x", "a\\b", "user@evil/x", "x?y=1", ""],
)
def test_paths_that_would_leave_the_base_url_are_refused(path: str) -> None:
    with raises(InvalidArgumentError) as info:
        relative_path(path, "path")
    assert info.value.argument == "path"


def test_a_leading_slash_stays_relative() -> None:
    assert relative_path("/files/file-1") == "files/file-1"

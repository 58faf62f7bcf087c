"""
Hostile input and hostile echoes: requests that are not valid HTTP fail at once (never retried, their raw text
never shown), the API key is checked when the connection is read and never leaks in an escaped form, plain HTTP
is refused off this machine, and a result too big for XCom is refused before sending. Every case counts the
requests the fault server on 127.0.0.1 saw.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import pytest

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.exceptions import (
    APIStatusError,
    ConnectionConfigError,
    InvalidArgumentError,
)
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.hooks.settings import settings_from_connection
from airflow_provider_openai_fusion.operators.custom import OpenAICustomAPICallOperator
from airflow_provider_openai_fusion.operators.embeddings import OpenAIEmbeddingsOperator
from tests.conftest import SENTINEL_KEY, connection_json
from tests.reliability.conftest import run_both
from tests.reliability.fault_server import FaultServer, Reply, json_reply

MODES = ["sync", "async"]
ESCAPED_KEY = "".join(f"\\u{ord(char):04x}" if char == "-" else char for char in SENTINEL_KEY)
PERCENT_KEY = SENTINEL_KEY.replace("-", "%2D")
BASE64_BEARER = base64.b64encode(f"Bearer {SENTINEL_KEY}".encode()).decode()
ENTITY_KEY = "".join(f"&#{ord(char)};" for char in SENTINEL_KEY)
DOUBLE_PERCENT_KEY = "".join(f"%25{ord(char):02X}" for char in SENTINEL_KEY)
INVALID_REQUESTS = {
    "NaN in a JSON body": RequestSpec("POST", "chat/completions", json={"temperature": float("nan")}),
    "a 100,000-character query": RequestSpec("GET", "models", params={"q": "x" * 100_000}),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(INVALID_REQUESTS))
def test_a_request_that_is_not_valid_http_fails_once_without_its_raw_text(
    mode: str,
    case: str,
    server: FaultServer,
    hook_at: Callable[..., OpenAIFusionHook],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_openai_fusion")
    spec = INVALID_REQUESTS[case]
    with pytest.raises(InvalidArgumentError) as error:
        run_both(mode, hook_at(server.base_url), lambda h: h.request(spec), lambda h: h.arequest(spec))
    assert error.value.argument == "request"
    assert "is not a valid HTTP request" in str(error.value) and "nothing was sent" in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__
    assert "Retrying" not in caplog.text
    assert server.attempts == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "headers",
    [{"Content-Length": "0"}, {"Transfer-Encoding": "chunked"}, {"X Trace": "a"}, {"X-Trace": "caf\u00e9"}],
    ids=repr,
)
def test_framing_headers_and_bad_header_text_never_reach_the_wire(
    mode: str, headers: dict[str, str], server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    spec = RequestSpec("POST", "chat/completions", json={"model": "m"}, headers=headers)
    with pytest.raises(InvalidArgumentError) as error:
        run_both(mode, hook_at(server.base_url), lambda h: h.request(spec), lambda h: h.arequest(spec))
    assert error.value.argument == "headers"
    assert server.attempts == 0


@pytest.mark.parametrize(
    "password",
    [f"{SENTINEL_KEY[:12]}\n{SENTINEL_KEY[12:]}", f"{SENTINEL_KEY[:12]} {SENTINEL_KEY[12:]}", SENTINEL_KEY + "\u00e9"],
    ids=["wrapped", "space inside", "non-ASCII"],
)
def test_a_malformed_key_fails_when_the_connection_is_read_without_showing_it(
    password: str, server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_WRAPPED", connection_json(server.base_url, password))
    ok, message = OpenAIFusionHook("openai_fusion_wrapped").test_connection()
    assert not ok and "field 'password'" in message and "paste it again as one line" in message
    assert SENTINEL_KEY[:12] not in message and SENTINEL_KEY[12:] not in message
    assert server.attempts == 0


def test_the_key_is_sent_stripped(server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.script(json_reply(200, {"object": "list", "data": []}))
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_PADDED", connection_json(server.base_url, f"  {SENTINEL_KEY}\n"))
    assert OpenAIFusionHook("openai_fusion_padded").test_connection()[0]
    assert server.requests[0].headers["authorization"] == f"Bearer {SENTINEL_KEY}"


ECHOES = {
    "JSON-escaped in an error message": lambda: Reply(
        401,
        {"Content-Type": "application/json"},
        b'{"error": {"message": "Incorrect API key provided: ' + ESCAPED_KEY.encode() + b'", "type": "auth"}}',
    ),
    "percent-encoded in a text error": lambda: Reply(403, {"Content-Type": "text/plain"}, PERCENT_KEY.encode()),
    "in the x-request-id header": lambda: Reply(404, {"x-request-id": f"req_{SENTINEL_KEY}"}, b"not found"),
    "base64 of 'Bearer <key>' in an HTML title": lambda: Reply(
        502, {"Content-Type": "text/html"}, f"<html><title>Bad token {BASE64_BEARER}</title></html>".encode()
    ),
    "as HTML entities in an error message": lambda: json_reply(
        400, {"error": {"message": f"Bad key {ENTITY_KEY}", "type": "invalid_request_error"}}
    ),
    "double percent-encoded in a text error": lambda: Reply(
        400, {"Content-Type": "text/plain"}, f"key={DOUBLE_PERCENT_KEY}".encode()
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("echo", list(ECHOES))
def test_echoes_of_the_key_in_any_form_are_replaced(
    mode: str, echo: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    server.script(ECHOES[echo]())
    spec = RequestSpec("GET", "models")
    with pytest.raises(APIStatusError) as error:
        run_both(mode, hook_at(server.base_url), lambda h: h.request(spec), lambda h: h.arequest(spec))
    shown = f"{error.value} {error.value!r} {error.value.request_id}"
    assert "***" in shown
    for form in (SENTINEL_KEY, ESCAPED_KEY, PERCENT_KEY, SENTINEL_KEY.split("-")[-1], BASE64_BEARER, ENTITY_KEY):
        assert form not in shown, form
    assert DOUBLE_PERCENT_KEY not in shown


def test_a_custom_call_text_answer_with_an_escaped_key_is_redacted_in_xcom(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    server.script(Reply(200, {"Content-Type": "text/plain", "x-echo": PERCENT_KEY}, f"key: {ESCAPED_KEY}".encode()))
    operator = OpenAICustomAPICallOperator(task_id="echo", url="echo")
    operator.hook = hook_at(server.base_url)
    xcom = operator.execute(context={})
    assert xcom["body"] == "key: ***" and xcom["headers"]["x-echo"] == "***"


@pytest.mark.parametrize(
    ("host", "extra", "refused"),
    [
        ("http://api.openai.com/v1", {}, "https only"),
        ("http://api.openai.com/v1", {"allow_insecure_http": True}, "https only"),
        ("http://api.openai.com./v1", {"allow_insecure_http": True}, "https only"),
        ("http://api.openai\u3002com/v1", {"allow_insecure_http": True}, "https only"),
        ("http://API.OpenAI.com/v1", {"allow_insecure_http": True}, "https only"),
        ("http://evil.localhost:8000/v1", {}, "allow_insecure_http"),
        ("http://localhost.evil.test:8000/v1", {}, "allow_insecure_http"),
        ("http://10.0.0.5:8000/v1", {}, "allow_insecure_http"),
        ("http://llm.internal:8000/v1", {"allow_insecure_http": "false"}, "allow_insecure_http"),
        ("http://10.0.0.5:8000/v1", {"allow_insecure_http": "maybe"}, "true or false"),
        ("http://10.0.0.5:8000/v1", {"allow_insecure_http": "true"}, None),
        ("http://127.0.0.1:8000/v1", {}, None),
        ("http://[::1]:8000/v1", {}, None),
        ("http://localhost:8000/v1", {}, None),
        ("https://10.0.0.5/v1", {}, None),
    ],
)
def test_plain_http_is_refused_off_this_machine(host: str, extra: dict, refused: str | None) -> None:
    """Only the settings are built: no request goes anywhere."""
    build = lambda: settings_from_connection("conn", host=host, password=SENTINEL_KEY, extra=extra)  # noqa: E731
    if refused is None:
        assert build().base_url == host
    else:
        with pytest.raises(ConnectionConfigError, match=refused):
            build()


def test_embeddings_too_big_for_xcom_are_refused_before_sending(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """2,000 texts x 1,536 dimensions is about 59 MiB of JSON: more than an XCom should hold."""
    operator = OpenAIEmbeddingsOperator(task_id="embed", model="text-embedding-3-small", input=["t"] * 2000)
    operator.hook = hook_at(server.base_url)
    with pytest.raises(InvalidArgumentError, match="set output_path") as error:
        operator.execute(context={})
    assert error.value.argument == "output_path" and "59 MiB" in str(error.value)
    assert server.attempts == 0

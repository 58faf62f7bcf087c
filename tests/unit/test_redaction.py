"""The API key stays secret: in debug logs, reprs, exception messages and redacted headers."""

from __future__ import annotations

import logging

import httpx
import pytest

from airflow_provider_openai_fusion._http.redaction import REDACTED, redact, redact_decoded, redact_headers
from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.exceptions import AuthenticationError, BadRequestError
from tests.conftest import SENTINEL_KEY
from tests.unit.helpers import Script, error, ok, raises, send

MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def _leaks(record: logging.LogRecord) -> bool:
    texts = [record.getMessage(), record.exc_text or "", repr(record.args)]
    return any(SENTINEL_KEY in text for text in texts)


@MODES
async def test_debug_logs_never_show_the_key(make_hook, caplog: pytest.LogCaptureFixture, mode: str) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="airflow_provider_openai_fusion")
    script = Script(error(503, retry_after_ms="1"), ok(), httpx.ConnectError("refused"), error(401, "bad key"))
    hook = make_hook(script, max_retries=1, organization_id="org-1")

    await send(hook, RequestSpec("GET", "models", headers={"X-Trace": "t-1"}), mode)
    with raises(AuthenticationError):
        await send(hook, RequestSpec("GET", "models"), mode)

    ours = [r for r in caplog.records if r.name.startswith("airflow_provider_openai_fusion")]
    assert len([r for r in ours if r.levelno == logging.DEBUG]) == script.attempts == 4
    assert len([r for r in ours if r.levelno == logging.WARNING]) == 2
    assert all(f"'authorization': '{REDACTED}'" in r.getMessage() for r in ours if r.levelno == logging.DEBUG)
    assert not [r.getMessage() for r in caplog.records if _leaks(r)]


def test_redact_headers_hides_every_credential_header() -> None:
    headers = httpx.Headers(
        {
            "Authorization": f"Bearer {SENTINEL_KEY}",
            "api-key": SENTINEL_KEY,
            "X-API-Key": SENTINEL_KEY,
            "Proxy-Authorization": "Basic abc",
            "OpenAI-Organization": "org-1",
            "User-Agent": "ua",
        }
    )

    redacted = redact_headers(headers)

    assert SENTINEL_KEY not in repr(redacted)
    assert redacted["authorization"] == redacted["api-key"] == redacted["x-api-key"] == REDACTED
    assert redacted["proxy-authorization"] == REDACTED
    assert (redacted["openai-organization"], redacted["user-agent"]) == ("org-1", "ua")
    assert headers["authorization"] == f"Bearer {SENTINEL_KEY}", "the input must not be changed"


def test_reprs_never_show_the_key(make_hook) -> None:
    hook = make_hook(Script(ok()))

    assert hook.settings.api_key == SENTINEL_KEY
    for text in (repr(hook), str(hook), repr(hook.settings), str(hook.settings), repr(hook.get_conn())):
        assert SENTINEL_KEY not in text
    assert "openai_fusion_default" in repr(hook)


@MODES
async def test_errors_never_show_the_key_even_when_the_server_echoes_it(make_hook, mode: str) -> None:
    echo = f"Bad header: Authorization: Bearer {SENTINEL_KEY}"
    script = Script(
        error(400, echo), httpx.Response(400, text=echo), httpx.Response(400, text=f"<title>{echo}</title>")
    )
    hook = make_hook(script)

    for _ in range(3):
        with raises(BadRequestError) as info:
            await send(hook, RequestSpec("GET", "models"), mode)
        assert "Bad header" in str(info.value)


@pytest.mark.parametrize(
    "form",
    [
        SENTINEL_KEY,
        SENTINEL_KEY.replace("-", "\\u002d"),
        SENTINEL_KEY.replace("-", "\\u002D"),
        SENTINEL_KEY.replace("-", "%2d"),
        "".join(f"\\u{ord(char):04x}" for char in SENTINEL_KEY),
    ],
    ids=["as sent", "JSON-escaped dashes", "upper-case escapes", "percent-encoded", "every character escaped"],
)
def test_every_written_form_of_the_key_is_replaced(form: str) -> None:
    text = f'{{"message": "bad key {form}."}}'
    assert redact(text, SENTINEL_KEY) == f'{{"message": "bad key {REDACTED}."}}'
    assert redact(text.encode(), SENTINEL_KEY) == f'{{"message": "bad key {REDACTED}."}}'.encode()


def test_text_without_the_key_is_left_alone() -> None:
    text = 'path a%2Fb and \\u002d escapes, "sk-other-key"'
    assert redact(text, SENTINEL_KEY) == text
    assert redact({"a": [text, 1.5]}, SENTINEL_KEY) == {"a": [text, 1.5]}


@MODES
async def test_answers_echoing_the_key_are_redacted_as_sent_or_json_escaped(make_hook, mode: str) -> None:
    escaped = "".join(f"\\u{ord(char):04x}" for char in SENTINEL_KEY)
    plain = httpx.Response(200, json={"echo": [{"key": SENTINEL_KEY}]})
    hidden = httpx.Response(200, content=f'{{"echo": [{{"key": "{escaped}"}}]}}'.encode())
    hook = make_hook(Script(plain, hidden))

    for _ in range(2):
        answer = await send(hook, RequestSpec("GET", "models"), mode)
        assert answer == {"echo": [{"key": REDACTED}]}


def test_a_body_that_cannot_hold_the_key_is_returned_as_decoded() -> None:
    value = {"data": [{"embedding": [0.5, 0.25]}]}
    assert redact_decoded(value, b'{"data": [{"embedding": [0.5, 0.25]}]}', SENTINEL_KEY) is value
    utf16 = '{"k": "x"}'.encode("utf-16")
    assert redact_decoded({"k": SENTINEL_KEY}, utf16, SENTINEL_KEY) == {"k": REDACTED}

"""The API key stays secret: in debug logs, reprs, exception messages and redacted headers."""

from __future__ import annotations

import base64
import html
import logging
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from airflow_provider_openai_fusion._http.redaction import (
    REDACTED,
    printable,
    redact,
    redact_decoded,
    redact_headers,
    redact_values,
)
from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.exceptions import AuthenticationError, BadRequestError, InternalServerError
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


def _b64(text: str, alphabet: str = "standard") -> str:
    encode = base64.urlsafe_b64encode if alphabet == "url-safe" else base64.b64encode
    return encode(text.encode()).decode()


ECHOED_FORMS = {
    "base64 alone": _b64(SENTINEL_KEY),
    "base64 of 'Bearer <key>'": _b64(f"Bearer {SENTINEL_KEY}"),
    "base64 after 2 bytes": _b64(f"k={SENTINEL_KEY}"),
    "base64 of a whole header": _b64(f"Authorization: Bearer {SENTINEL_KEY}\r\n"),
    "url-safe base64": _b64(f"??{SENTINEL_KEY}", "url-safe"),
    "HTML decimal entities": "".join(f"&#{ord(char)};" for char in SENTINEL_KEY),
    "HTML hex entities": "".join(f"&#x{ord(char):X};" for char in SENTINEL_KEY),
    "HTML entities without ';' and zero-padded": "".join(f"&#00{ord(char)}" for char in SENTINEL_KEY),
    "HTML entities for some characters": "".join(
        f"&#{ord(char)};" if index % 3 else char for index, char in enumerate(SENTINEL_KEY)
    ),
    "percent-encoded": "".join(f"%{ord(char):02x}" for char in SENTINEL_KEY),
    "percent-encoded dashes only": SENTINEL_KEY.replace("-", "%2D"),
    "double percent-encoded": "".join(f"%25{ord(char):02x}" for char in SENTINEL_KEY),
    "triple percent-encoded": "".join(f"%2525{ord(char):02X}" for char in SENTINEL_KEY),
    "double percent-encoded dashes": SENTINEL_KEY.replace("-", "%252d"),
}


@pytest.mark.parametrize("form", [SENTINEL_KEY, *ECHOED_FORMS.values()], ids=["as sent", *ECHOED_FORMS.keys()])
def test_header_values_holding_the_key_in_any_form_are_redacted(form: str) -> None:
    headers = [("content-type", "application/json"), ("x-request-id", f"req {form} end"), ("x-other", "plain")]
    redacted = redact_values(headers, SENTINEL_KEY)
    assert list(redacted) == ["content-type", "x-request-id", "x-other"]
    assert redacted["x-request-id"] == redact(f"req {form} end", SENTINEL_KEY) != f"req {form} end"
    assert redacted["content-type"] == "application/json" and redacted["x-other"] == "plain"


def test_plain_header_values_are_kept_as_they_are() -> None:
    headers = [("content-type", "application/json"), ("x-request-id", "req_1"), ("x-ratelimit-remaining", "9")]
    assert redact_values(headers, SENTINEL_KEY) == dict(headers)
    escapes = [("link", "<a%2Fb>; rel=next"), ("x-note", "a & b \\ c")]
    assert redact_values(escapes, SENTINEL_KEY) == dict(escapes)
    assert redact_values(escapes, "") == dict(escapes)


@pytest.mark.parametrize("form", ECHOED_FORMS.values(), ids=ECHOED_FORMS.keys())
def test_echoed_forms_of_the_key_are_replaced(form: str) -> None:
    for text in (f"before {form} after", f'{{"echo": "{form}"}}', f"<title>{form}</title>"):
        redacted = redact(text, SENTINEL_KEY)
        assert REDACTED in redacted and form not in redacted, redacted
        assert redact(text.encode(), SENTINEL_KEY) == redacted.encode()
        assert "SENTINEL" not in html.unescape(unquote(unquote(unquote(redacted))))


def test_named_html_entities_are_found() -> None:
    key = "sk-svcacct_Abc_0123456789/xyz"
    written = key.replace("_", "&lowbar;").replace("/", "&sol;")
    assert html.unescape(written) == key
    assert redact(f"<p>{written}</p>", key) == f"<p>{REDACTED}</p>"


@pytest.mark.parametrize("form", ECHOED_FORMS.values(), ids=ECHOED_FORMS.keys())
def test_dict_keys_are_redacted_too(form: str) -> None:
    value = {form: {SENTINEL_KEY: [form]}, "plain": "text"}
    redacted = redact(value, SENTINEL_KEY)
    [hidden_key, plain] = redacted
    assert _hidden(hidden_key, form) and _hidden(redacted[hidden_key][REDACTED][0], form)
    assert plain == "plain" and redacted["plain"] == "text"


def _hidden(text: str, form: str) -> bool:
    return REDACTED in text and form not in text and SENTINEL_KEY not in text


@MODES
@pytest.mark.parametrize(
    "form",
    [ECHOED_FORMS[name] for name in ("base64 of 'Bearer <key>'", "HTML hex entities", "double percent-encoded")],
    ids=["base64", "entities", "double percent"],
)
async def test_echoed_forms_never_reach_errors_titles_or_answers(make_hook: Any, form: str, mode: str) -> None:
    script = Script(
        error(400, f"Bad header {form}"),
        httpx.Response(502, text=f"<html><title>Bad {form}</title></html>", headers={"content-type": "text/html"}),
        httpx.Response(400, text=f"plain {form}"),
        httpx.Response(200, json={"echo": form, form: 1}, headers={"x-echo": form}),
    )
    hook = make_hook(script)

    for cls in (BadRequestError, InternalServerError, BadRequestError):
        with raises(cls) as info:
            await send(hook, RequestSpec("GET", "models"), mode)
        assert _hidden(str(info.value), form)
    answer = await (hook.asend(RequestSpec("GET", "models")) if mode == "async" else _now(hook.send, "models"))
    [(key, one)] = [(key, value) for key, value in answer.body.items() if key != "echo"]
    assert _hidden(answer.body["echo"], form) and _hidden(key, form) and one == 1
    assert _hidden(answer.headers["x-echo"], form)


async def _now(function: Any, path: str) -> Any:
    return function(RequestSpec("GET", path))


@pytest.mark.parametrize(
    "text",
    [
        "a &amp; b &#60;tag&#62; 100%25 done, %2d",
        _b64("some other secret entirely, long enough"),
        "&#115;&#107;-other-key",
    ],
)
def test_lookalike_text_is_left_alone(text: str) -> None:
    assert redact(text, SENTINEL_KEY) == text


def test_printable_escapes_control_characters_for_log_lines() -> None:
    assert printable("in_progress\x1b[2J\r\nERROR forged\u202e\x85") == (
        "in_progress\\x1b[2J\\r\\nERROR forged\\u202e\\x85"
    )
    assert printable("completed") == "completed"
    assert printable("x" * 500, limit=10) == "x" * 10 + "..."
    assert printable("x" * 10, limit=10) == "x" * 10
    assert (printable("y" * 100), printable("y" * 101)) == ("y" * 100, "y" * 100 + "...")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_the_key_in_wide_text_read_as_bytes_is_replaced(encoding: str) -> None:
    """A text error page in UTF-16 is decoded as UTF-8 with NUL bytes between the key's characters."""
    body = f"bad key {SENTINEL_KEY}.".encode(encoding)
    shown = redact(body, SENTINEL_KEY).decode("utf-8", "replace").replace("\x00", "")
    assert "bad key" in shown and REDACTED in shown and "SENTINEL" not in shown

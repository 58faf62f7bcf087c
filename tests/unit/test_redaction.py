"""The API key stays secret: in debug logs, reprs, exception messages and redacted headers."""

from __future__ import annotations

import logging

import httpx
import pytest

from airflow_provider_openai_fusion._http.request import REDACTED, RequestSpec, redact_headers
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

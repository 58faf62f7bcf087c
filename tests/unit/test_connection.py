"""Reading the Airflow Connection: settings_from_connection, env-var connections (JSON and URI), the CLI form."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion._http.request import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientSettings,
)
from airflow_provider_openai_fusion.api import models
from airflow_provider_openai_fusion.exceptions import ConnectionConfigError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.hooks.settings import settings_from_connection
from tests.conftest import SENTINEL_KEY, connection_json
from tests.unit.helpers import Script, ok, raises


def _settings(
    host: str | None = "https://api.test/v1", password: str | None = SENTINEL_KEY, **kw: Any
) -> ClientSettings:
    extra = kw.pop("extra", {})
    return settings_from_connection("conn", host=host, password=password, extra=extra, **kw)


def test_defaults_when_only_the_key_is_set() -> None:
    settings = _settings(host=None)

    assert settings == ClientSettings(base_url=DEFAULT_BASE_URL, api_key=SENTINEL_KEY)
    assert (settings.timeout, settings.max_retries) == (DEFAULT_TIMEOUT, DEFAULT_MAX_RETRIES)


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        ("", None, None, DEFAULT_BASE_URL),
        ("   ", None, None, DEFAULT_BASE_URL),
        ("https://api.test/v1/", None, None, "https://api.test/v1"),
        ("http://127.0.0.1:8080/v1//", None, None, "http://127.0.0.1:8080/v1"),
        ("api.test/v1", None, None, "https://api.test/v1"),
        ("api.test/v1", None, 8080, "https://api.test:8080/v1"),
        ("api.test:9000", "v1", 8080, "https://api.test:9000/v1"),
        ("api.test", "/v1/", None, "https://api.test/v1"),
        ("localhost:8000", "v1", None, "http://localhost:8000/v1"),
        ("evil.localhost:8000", "v1", None, "https://evil.localhost:8000/v1"),
        ("https://API.Test./v1", None, None, "https://api.test/v1"),
        ("https://api\u3002test/v1", None, None, "https://api.test/v1"),
        ("https://caf\u00e9.test/v1", None, None, "https://xn--caf-dma.test/v1"),
        ("http://[::1]:8000/v1", None, None, "http://[::1]:8000/v1"),
    ],
)
def test_base_url(host: str, schema: str | None, port: int | None, expected: str) -> None:
    assert _settings(host=host, schema=schema, port=port).base_url == expected


@pytest.mark.parametrize(
    "host",
    [
        "ftp://api.test/v1",
        "https://user:pw@api.test/v1",
        "https://api.test/v1?x=1",
        "https://api.test/v1#f",
        "https://a..b/v1",
        "https://api.test%2e/v1",
        "https://api.test:99999/v1",
    ],
)
def test_bad_base_url_names_host(host: str) -> None:
    with raises(ConnectionConfigError) as info:
        _settings(host=host)
    assert info.value.field == "host"
    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    ("host", "match"),
    [
        ("http://api.openai.com./v1", "https only"),
        ("http://api.openai\u3002com/v1", "https only"),
        ("http://API.OPENAI.COM/v1", "https only"),
        ("http://eu.api.openai.com./v1", "https only"),
        ("http://evil.localhost:8000/v1", "allow_insecure_http"),
        ("http://localhost.evil.test/v1", "allow_insecure_http"),
        ("http://127.0.0.1.evil.test/v1", "allow_insecure_http"),
    ],
)
def test_plain_http_to_openai_or_a_remote_look_alike_is_refused(host: str, match: str) -> None:
    insecure_ok = {} if match == "allow_insecure_http" else {"allow_insecure_http": True}
    with raises(ConnectionConfigError, match=match) as info:
        _settings(host=host, extra=insecure_ok)
    assert info.value.field == "host"


@pytest.mark.parametrize(
    "extra",
    [
        {"organization_id": "org-1", "project_id": "proj-1", "timeout": 5, "max_retries": 3},
        {"organization_id": "org-1", "project_id": "proj-1", "timeout": "5", "max_retries": "3"},
        {"organization_id": " org-1 ", "project_id": "proj-1", "timeout": " 5.0 ", "max_retries": " 3 "},
    ],
)
def test_extras_as_numbers_or_strings(extra: dict[str, Any]) -> None:
    settings = _settings(extra=extra)

    assert (settings.organization_id, settings.project_id, settings.timeout, settings.max_retries) == (
        "org-1",
        "proj-1",
        5.0,
        3,
    )
    assert type(settings.max_retries) is int and type(settings.timeout) is float


def test_empty_extras_count_as_unset() -> None:
    settings = _settings(extra={"organization_id": "", "project_id": "  ", "timeout": "", "max_retries": None})

    assert (settings.organization_id, settings.project_id) == (None, None)
    assert (settings.timeout, settings.max_retries) == (DEFAULT_TIMEOUT, DEFAULT_MAX_RETRIES)


def test_zero_retries_is_allowed() -> None:
    assert _settings(extra={"max_retries": "0"}).max_retries == 0


@pytest.mark.parametrize("password", [None, "", "   "])
def test_missing_api_key_names_password(password: str | None) -> None:
    with raises(ConnectionConfigError) as info:
        _settings(password=password)
    assert (info.value.conn_id, info.value.field) == ("conn", "password")
    assert "'password'" in str(info.value)


def test_the_key_is_stripped() -> None:
    assert _settings(password=f"  {SENTINEL_KEY}\n").api_key == SENTINEL_KEY


@pytest.mark.parametrize("name", ["organisation_id", "api_key", "max_retry"])
def test_unknown_extra_is_named(name: str) -> None:
    with raises(ConnectionConfigError) as info:
        _settings(extra={name: "x", "timeout": 5})
    assert info.value.field == name
    assert name in str(info.value)


@pytest.mark.parametrize("value", ["abc", "0", 0, "-1", -2.5, "nan", "inf", math.inf, True, [5]])
def test_bad_timeout_is_named(value: Any) -> None:
    with raises(ConnectionConfigError) as info:
        _settings(extra={"timeout": value})
    assert info.value.field == "timeout"


@pytest.mark.parametrize("value", ["x", "-1", -1, "1.5", 1.5, "nan", True, {"n": 1}])
def test_bad_max_retries_is_named(value: Any) -> None:
    with raises(ConnectionConfigError) as info:
        _settings(extra={"max_retries": value})
    assert info.value.field == "max_retries"


def test_hook_reads_a_json_env_var_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = connection_json("http://127.0.0.1:9999/v1/", timeout="5", max_retries=3, organization_id="org-1")
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_JSON", conn)

    settings = OpenAIFusionHook("openai_json").settings

    assert settings == ClientSettings(
        base_url="http://127.0.0.1:9999/v1", api_key=SENTINEL_KEY, organization_id="org-1", timeout=5.0, max_retries=3
    )


def test_hook_reads_a_uri_env_var_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"openai-fusion://:{SENTINEL_KEY}@api.test:8443/v1?timeout=7&max_retries=1&organization_id="
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_URI", uri)

    settings = OpenAIFusionHook("openai_uri").settings

    assert settings == ClientSettings(
        base_url="https://api.test:8443/v1", api_key=SENTINEL_KEY, timeout=7.0, max_retries=1
    )


def test_hook_arguments_win_over_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_ARGS", connection_json("https://api.test/v1", timeout=5, max_retries=3))

    settings = OpenAIFusionHook("openai_args", timeout=1.5, max_retries=0).settings

    assert (settings.timeout, settings.max_retries) == (1.5, 0)


async def test_a_bad_connection_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_BAD", connection_json("https://api.test/v1", organisation_id="org-1"))
    script = Script(ok({"data": [], "has_more": False}))
    hook = OpenAIFusionHook("openai_bad", transport=httpx.MockTransport(script))

    with raises(ConnectionConfigError) as sync_info:
        hook.paginate(models.list_models())
    with raises(ConnectionConfigError) as async_info:
        await hook.apaginate(models.list_models())

    assert sync_info.value.field == async_info.value.field == "organisation_id"
    assert script.attempts == 0


@pytest.mark.airflow
@pytest.mark.timeout(600)  # db migrate and two `airflow` CLI runs: 47 s measured at a load average of 17
def test_a_connection_added_with_the_cli_is_usable(airflow_home) -> None:
    extra = {"timeout": 5, "max_retries": "3", "organization_id": "org-1", "project_id": ""}
    conn = json.dumps(
        {"conn_type": "openai_fusion", "host": "http://127.0.0.1:9999/v1/", "password": SENTINEL_KEY, "extra": extra}
    )
    added = airflow_home.airflow(["connections", "add", "openai_fusion_cli", "--conn-json", conn])
    assert added.returncode == 0, added.stderr[-2000:]

    got = airflow_home.airflow(["connections", "get", "openai_fusion_cli", "-o", "json"])
    assert got.returncode == 0, got.stderr[-2000:]
    (row,) = json.loads(got.stdout)
    settings = settings_from_connection(
        row["conn_id"],
        host=row["host"],
        password=row["password"],
        extra=row["extra_dejson"],
        schema=row["schema"],
        port=row["port"],
    )

    assert row["conn_type"] == "openai_fusion"
    assert settings == ClientSettings(
        base_url="http://127.0.0.1:9999/v1", api_key=SENTINEL_KEY, organization_id="org-1", timeout=5.0, max_retries=3
    )

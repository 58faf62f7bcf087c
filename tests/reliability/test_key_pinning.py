"""
Key pinning: the custom API call cannot send the key anywhere but the connection's Base URL.

Two local servers: the configured one, and an attacker that records every request it gets, headers included,
and counts the connections it accepts.
Every trick (absolute and scheme-relative URLs, ``..`` and ``%2e%2e`` traversal, backslashes, ``user@host``,
control characters, CRLF in headers) is refused before sending, through the operator and through the hook's
sync and async paths; the few odd-looking paths that are accepted still go to the configured server only; a
redirect to another host is never followed. The attacker never even gets a connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.exceptions import APIStatusError, InvalidArgumentError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators.custom import OpenAICustomAPICallOperator
from tests.conftest import SENTINEL_KEY
from tests.reliability.conftest import run_both
from tests.reliability.fault_server import FaultServer, Reply, json_reply, running_fault_server

ATTACKER = "127.0.0.1:{port}"
REFUSED_URLS = [
    "http://{attacker}/v1/models",
    "HTTPS://{attacker}/v1/models",
    "//{attacker}/v1/models",
    "///{attacker}/v1/models",
    "\\\\{attacker}\\v1\\models",
    "/\\{attacker}/v1/models",
    "models\\..\\..\\x",
    "../../../x",
    "models/../../x",
    "./models",
    "%2e%2e/%2e%2e/x",
    "%2E%2E/%2E%2E/x",
    "..%2f..%2fx",
    ".%2e/x",
    "models/%252e%252e/%252e%252e/x",
    "..%5c..%5cx",
    "user@{attacker}/v1/models",
    "key:{key}@{attacker}/v1/models",
    "models\r\nHost: {attacker}",
    "models\nX: y",
    "\thttp://{attacker}/v1/models",
    "models\x00.json",
    "models?redirect=http://{attacker}/",
    "models#@{attacker}",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "",
    "models/@{attacker}",
    "models%0d%0aHost:{attacker}",
    " http://{attacker}/v1/models",
    "..;/admin",
    "models/..;/admin",
    "models;jsessionid=1/x",
    "models/%2e%2e%3b/admin",
    "\uff0e\uff0e/admin",
    "models/\uff0e\uff0e/\uff0e\uff0e/admin",
    "%EF%BC%8E%EF%BC%8E/admin",
    "models%00",
    "models/%2500.json",
    "mo\u200bdels",
    "models/%E2%80%8B",
    "models/%20",
    "models/caf\u00e9",
    "m" * 100_000,
]
ROUTING_HEADERS = [
    "Host",
    "X-Forwarded-Host",
    "X-Forwarded-For",
    "Forwarded",
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-HTTP-Method-Override",
    "X-HTTP-Host-Override",
    "X-Host-Override",
    "X-Forwarded",
    "X-Real-Host",
    "X-Backend-Host",
    "X-Override-URL",
    "Connection",
    "Upgrade",
    "TE",
    "Transfer-Encoding",
    "Content-Length",
    "Expect",
    "Cookie",
    "Proxy-Authorization",
    "Proxy-Connection",
    "OpenAI-Organization",
    "OpenAI-Project",
]
REFUSED_HEADERS = [
    {"X-Trace": "a\r\nHost: {attacker}"},
    {"X-Trace\r\nHost": "{attacker}"},
    {"X-Trace": "a\nAuthorization: Bearer stolen"},
    {"Authorization": "Bearer stolen"},
    {"authorization": "Bearer stolen"},
    {"X Trace": "a"},
    {"X-Trace:": "a"},
    {"X-Trace": "caf\u00e9"},
    {"X-Trace": "a\x7f"},
    *({name: "{attacker}"} for name in ROUTING_HEADERS),
]
PINNED_URLS = [
    "/models",
    "models/%2Fhttp:%2F%2F{attacker}",
    "models/http://{attacker}",
    "models/ft:gpt-4o-mini:org:custom:abc123",
]


@pytest.fixture
def attacker() -> Iterator[FaultServer]:
    """A second server, on its own port, that must never hear from the provider."""
    with running_fault_server() as server:
        yield server


def _fill(template: Any, attacker: FaultServer) -> Any:
    if isinstance(template, dict):
        return {_fill(name, attacker): _fill(value, attacker) for name, value in template.items()}
    return template.format(attacker=ATTACKER.format(port=attacker.port), key=SENTINEL_KEY)


def _operator(hook: OpenAIFusionHook, **kwargs: Any) -> OpenAICustomAPICallOperator:
    operator = OpenAICustomAPICallOperator(task_id="custom", **kwargs)
    operator.hook = hook
    return operator


@pytest.mark.parametrize("template", REFUSED_URLS, ids=lambda template: repr(template)[:40])
def test_operator_refuses_urls(
    template: str, server: FaultServer, attacker: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    operator = _operator(hook_at(server.base_url), url=_fill(template, attacker))
    with pytest.raises(InvalidArgumentError) as error:
        operator.execute(context={})
    assert error.value.argument == "url"
    assert SENTINEL_KEY not in str(error.value)
    assert (server.attempts, attacker.connections) == (0, 0)


@pytest.mark.parametrize("template", REFUSED_HEADERS, ids=repr)
def test_operator_refuses_headers(
    template: dict[str, str], server: FaultServer, attacker: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    operator = _operator(hook_at(server.base_url), url="models", headers=_fill(template, attacker))
    with pytest.raises(InvalidArgumentError) as error:
        operator.execute(context={})
    assert error.value.argument == "headers"
    assert (server.attempts, attacker.connections) == (0, 0)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_hook_refuses_every_trick(
    mode: str, server: FaultServer, attacker: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """The same refusals hold one layer down, for whoever builds a RequestSpec by hand."""
    specs = [RequestSpec("GET", _fill(template, attacker)) for template in REFUSED_URLS]
    specs += [RequestSpec("GET", "models", headers=_fill(template, attacker)) for template in REFUSED_HEADERS]
    hook = hook_at(server.base_url)
    for spec in specs:
        with pytest.raises(InvalidArgumentError) as error:
            run_both(mode, hook, lambda h, spec=spec: h.send(spec), lambda h, spec=spec: h.asend(spec))
        assert error.value.argument in ("path", "headers"), spec
    assert (server.attempts, attacker.connections) == (0, 0)


@pytest.mark.parametrize("template", PINNED_URLS, ids=repr)
def test_accepted_odd_paths_stay_on_the_base_url(
    template: str, server: FaultServer, attacker: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    server.script(json_reply(200, {"ok": True}))
    operator = _operator(hook_at(server.base_url), url=_fill(template, attacker), headers={"X-Trace": "t1"})
    assert operator.execute(context={})["body"] == {"ok": True}
    assert server.attempts == 1
    assert server.requests[0].target.startswith("/v1/")
    assert server.requests[0].headers["authorization"] == f"Bearer {SENTINEL_KEY}"
    assert server.requests[0].headers["x-trace"] == "t1"
    assert attacker.connections == 0


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("mode", ["operator", "sync", "async"])
def test_redirect_to_another_host_is_not_followed(
    status: int,
    mode: str,
    server: FaultServer,
    attacker: FaultServer,
    hook_at: Callable[..., OpenAIFusionHook],
) -> None:
    server.script(Reply(status, {"Location": f"http://127.0.0.1:{attacker.port}/v1/models", "x-request-id": "r1"}))
    hook = hook_at(server.base_url)
    spec = RequestSpec("GET", "models")
    with pytest.raises(APIStatusError) as error:
        if mode == "operator":
            _operator(hook, url="models").execute(context={})
        else:
            run_both(mode, hook, lambda h: h.send(spec), lambda h: h.asend(spec))
    assert error.value.status_code == status
    assert error.value.request_id == "r1"
    assert server.attempts == 1
    assert attacker.connections == 0

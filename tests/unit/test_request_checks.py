"""
The checks that keep the key on the configured server, in the unit tier: caller headers that could route a
request elsewhere, host names compared in canonical form, OpenAI's host told apart from look-alikes, and the
listing's cursor guard. (The reliability tier repeats the header and cursor cases against real sockets.)
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion._http.hosts import canonical_host, is_local_host
from airflow_provider_openai_fusion._http.request import RequestSpec, check_header, relative_path
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError
from airflow_provider_openai_fusion.model_lifecycle import is_openai
from tests.unit.helpers import Script, ok, raises, send

MODES = pytest.mark.parametrize("mode", ["sync", "async"])
ROUTING_HEADERS = [
    "Host",
    "Forwarded",
    "X-Forwarded",
    "X-Forwarded-Host",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-HTTP-Host-Override",
    "X-Host-Override",
    "X-Host",
    "X-Real-Host",
    "X-Backend-Host",
    "X-Backend",
    "X-Override-URL",
    "X-Original-URL",
    "X-Original-URI",
    "X-Rewrite-URL",
    "X-Rewrite",
    "X-Route",
    "X-Routing-Key",
    "X-Upstream",
    "X-Upstream-Server",
    "X-Origin",
    "X-HTTP-Method-Override",
    "X-Method-Override",
    "X-Real-IP",
    "X-Client-IP",
    "X-Envoy-Original-Path",
    "X-Proxy-URL",
    "x-forwarded-host",
    "X-FORWARDED",
    "Connection",
    "Upgrade",
    "Transfer-Encoding",
    "Content-Length",
    "Cookie",
    "Proxy-Authorization",
    "Authorization",
    "OpenAI-Organization",
    "OpenAI-Project",
]
ACCEPTED_HEADERS = ["X-Trace", "X-Client-Request-Id", "X-Stainless-Retry-Count", "Idempotency-Key", "OpenAI-Beta"]


@pytest.mark.parametrize("name", ROUTING_HEADERS)
def test_a_routing_header_is_refused_naming_headers(name: str) -> None:
    with raises(InvalidArgumentError) as info:
        check_header(name, "127.0.0.1:1")
    assert info.value.argument == "headers"
    assert name in str(info.value)


@pytest.mark.parametrize("name", ACCEPTED_HEADERS)
def test_harmless_headers_are_accepted(name: str) -> None:
    check_header(name, "value-1")


@MODES
@pytest.mark.parametrize("name", ["X-HTTP-Host-Override", "X-Backend-Host", "X-Override-URL", "X-Forwarded"])
async def test_the_hook_sends_nothing_with_a_routing_header(make_hook: Any, name: str, mode: str) -> None:
    script = Script(ok())
    hook = make_hook(script)
    with raises(InvalidArgumentError, match=name):
        await send(hook, RequestSpec("GET", "models", headers={name: "evil.test"}), mode)
    assert script.attempts == 0


@MODES
async def test_an_accepted_header_reaches_the_server(make_hook: Any, mode: str) -> None:
    script = Script(ok())
    await send(make_hook(script), RequestSpec("GET", "models", headers={"X-Trace": "t-1"}), mode)
    assert [request.headers["x-trace"] for request in script.requests] == ["t-1"]


@pytest.mark.parametrize(
    ("hostname", "canonical"),
    [
        ("api.openai.com", "api.openai.com"),
        ("API.OpenAI.COM", "api.openai.com"),
        ("api.openai.com.", "api.openai.com"),
        ("api.openai\u3002com", "api.openai.com"),
        ("api\uff0eopenai\uff0ecom", "api.openai.com"),
        ("\uff41\uff50\uff49.openai.com", "api.openai.com"),
        ("caf\u00e9.test", "xn--caf-dma.test"),
        ("::1", "::1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_canonical_host(hostname: str, canonical: str) -> None:
    assert canonical_host(hostname) == canonical


@pytest.mark.parametrize("hostname", ["", "a..b", "api.openai.com..", "api.openai.com%2e", "a b", "x" * 300])
def test_what_is_not_a_host_name_is_refused(hostname: str) -> None:
    with pytest.raises(ValueError, match="not a valid host name"):
        canonical_host(hostname)


@pytest.mark.parametrize(
    ("hostname", "local"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("evil.localhost", False),
        ("localhost.evil.test", False),
        ("127.0.0.1.evil.test", False),
        ("10.0.0.1", False),
        ("api.openai.com", False),
    ],
)
def test_only_localhost_and_loopback_addresses_are_local(hostname: str, local: bool) -> None:
    assert is_local_host(hostname) is local


@pytest.mark.parametrize(
    ("base_url", "openai"),
    [
        (None, True),
        ("", True),
        ("https://api.openai.com/v1", True),
        ("https://API.OpenAI.com/v1/", True),
        ("https://api.openai.com./v1", True),
        ("https://api.openai\u3002com/v1", True),
        ("https://api.openai.com:443/v1", True),
        ("https://api.openai.com.evil.test/v1", False),
        ("https://evilopenai.com/v1", False),
        ("https://evil-api.openai.com.test/v1", False),
        ("https://xapi.openai.com/v1", False),
        ("https://openai.com/v1", False),
        ("https://api.openai.co/v1", False),
        ("http://127.0.0.1:4010/v1", False),
        ("https://a..b/v1", False),
    ],
)
def test_is_openai_only_for_openai_s_own_host(base_url: str | None, openai: bool) -> None:
    assert is_openai(base_url) is openai


@MODES
async def test_a_repeated_cursor_ends_the_listing_after_two_pages(make_hook: Any, mode: str) -> None:
    page = {"object": "list", "data": [{"id": "file-1"}], "has_more": True, "last_id": "file-1"}
    script = Script(*[ok(page)] * 5, httpx.ConnectError("the listing looped: the cursor guard is gone"))
    hook = make_hook(script)
    spec = RequestSpec("GET", "files", listing=True)
    with raises(APIResponseValidationError, match="repeated the page cursor 'file-1'"):
        await (hook.apaginate(spec) if mode == "async" else _sync(hook.paginate, spec))
    assert script.attempts == 2
    assert [request.url.params.get("after") for request in script.requests] == [None, "file-1"]


async def _sync(function: Any, *args: Any) -> Any:
    return function(*args)


@MODES
async def test_endless_new_cursors_end_at_the_page_cap(make_hook: Any, mode: str) -> None:
    served = iter(range(2_000))

    def endless(request: httpx.Request) -> httpx.Response:
        number = next(served)
        if number > 1_000:
            raise httpx.ConnectError("the listing ran past its cap")
        return httpx.Response(200, json={"data": [{"id": f"file-{number}"}], "has_more": True})

    hook = make_hook(endless)
    spec = RequestSpec("GET", "files", listing=True)
    with raises(APIResponseValidationError, match="still had more after 1000 pages"):
        await (hook.apaginate(spec) if mode == "async" else _sync(hook.paginate, spec))
    assert next(served) == 1_000


@MODES
@pytest.mark.parametrize("page", [None, [], "text", 3])
async def test_a_listing_page_that_is_not_an_object_is_an_api_error(make_hook: Any, page: Any, mode: str) -> None:
    """Found by the property test: a ``null`` page raised AttributeError instead of the provider's error."""
    hook = make_hook(Script(ok(page) if page is not None else httpx.Response(200, content=b"null")))
    spec = RequestSpec("GET", "files", listing=True)
    with raises(APIResponseValidationError, match="is not a list page"):
        await (hook.apaginate(spec) if mode == "async" else _sync(hook.paginate, spec))


def test_a_refused_path_is_refused_every_time_and_an_accepted_one_stays_accepted() -> None:
    for _ in range(3):
        with pytest.raises(InvalidArgumentError, match=r"'\.\.'"):
            relative_path("files/../admin", "path")
        assert relative_path("/files/file-1", "path") == "files/file-1"
    with pytest.raises(InvalidArgumentError, match="non-empty path"):
        relative_path(["files"], "path")  # type: ignore[arg-type]

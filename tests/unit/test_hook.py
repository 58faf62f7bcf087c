"""The hook over a MockTransport: request headers, pagination, path encoding, error answers, test_connection."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_openai_fusion._http.request import USER_AGENT, RequestSpec
from airflow_provider_openai_fusion.api import files, models
from airflow_provider_openai_fusion.exceptions import (
    AuthenticationError,
    InternalServerError,
    InvalidArgumentError,
)
from tests.conftest import SENTINEL_KEY
from tests.unit.helpers import Script, error, ok, raises, send

MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
async def test_requests_carry_auth_and_user_agent_but_no_unset_ids(make_hook, mode: str) -> None:
    script = Script(ok())
    await send(make_hook(script), RequestSpec("GET", "models"), mode)

    (request,) = script.requests
    assert str(request.url) == "https://api.test/v1/models"
    assert request.headers["authorization"] == f"Bearer {SENTINEL_KEY}"
    assert request.headers["user-agent"] == USER_AGENT
    assert "openai-organization" not in request.headers
    assert "openai-project" not in request.headers


@MODES
async def test_requests_carry_organization_and_project_when_set(make_hook, mode: str) -> None:
    script = Script(ok())
    hook = make_hook(script, organization_id="org-1", project_id="proj-1")
    await send(hook, RequestSpec("POST", "chat/completions", json={"model": "m"}), mode)

    (request,) = script.requests
    assert request.headers["openai-organization"] == "org-1"
    assert request.headers["openai-project"] == "proj-1"
    assert request.content == b'{"model":"m"}'


@MODES
@pytest.mark.parametrize("headers", [{"Authorization": "Bearer stolen"}, {"X-Trace": "a\r\nAuthorization: x"}])
async def test_bad_caller_headers_fail_before_any_request(make_hook, mode: str, headers: dict[str, str]) -> None:
    script = Script(ok())

    with raises(InvalidArgumentError) as info:
        await send(make_hook(script), RequestSpec("GET", "models", headers=headers), mode)

    assert info.value.argument == "headers"
    assert script.attempts == 0


def _files_pages(request: httpx.Request) -> httpx.Response:
    ids = [f"file-{n}" for n in range(1, 8)]
    after = request.url.params.get("after")
    start = ids.index(after) + 1 if after else 0
    page = ids[start : start + 3]
    return ok({"object": "list", "data": [{"id": i} for i in page], "has_more": start + 3 < len(ids)})


@MODES
async def test_list_files_follows_has_more_with_after(make_hook, mode: str) -> None:
    seen: list[httpx.Request] = []
    hook = make_hook(lambda r: seen.append(r) or _files_pages(r))

    spec = files.list_files("fine-tune")
    found = hook.paginate(spec) if mode == "sync" else await hook.apaginate(spec)

    assert [f["id"] for f in found] == [f"file-{n}" for n in range(1, 8)]
    assert [r.url.params.get("after") for r in seen] == [None, "file-3", "file-6"]
    assert all(r.url.params["purpose"] == "fine-tune" for r in seen)


@MODES
async def test_a_limit_stops_paging_early(make_hook, mode: str) -> None:
    seen: list[httpx.Request] = []
    hook = make_hook(lambda r: seen.append(r) or _files_pages(r))

    spec = files.list_files()
    found = hook.paginate(spec, 4) if mode == "sync" else await hook.apaginate(spec, 4)

    assert [f["id"] for f in found] == ["file-1", "file-2", "file-3", "file-4"]
    assert len(seen) == 2
    assert "purpose" not in seen[0].url.params


def test_paging_stops_on_an_empty_page_even_if_has_more(make_hook) -> None:
    script = Script(ok({"object": "list", "data": [], "has_more": True}))

    assert make_hook(script).paginate(models.list_models()) == []
    assert script.attempts == 1


@MODES
@pytest.mark.parametrize(
    ("file_id", "raw_path"),
    [("file-abc", b"/v1/files/file-abc"), ("a/b", b"/v1/files/a%2Fb"), ("ft:m:o", b"/v1/files/ft%3Am%3Ao")],
)
async def test_ids_stay_one_path_segment(make_hook, mode: str, file_id: str, raw_path: bytes) -> None:
    script = Script(ok({"id": file_id}))
    hook = make_hook(script)

    await _retrieve_file(hook, file_id, mode)

    assert script.requests[0].url.raw_path == raw_path


async def _retrieve_file(hook, file_id: str, mode: str) -> dict:
    spec = files.retrieve_file(file_id)
    return hook.request(spec) if mode == "sync" else await hook.arequest(spec)


@MODES
@pytest.mark.parametrize("file_id", ["../x", "..", "%2e%2e/models"])
async def test_dot_segment_ids_never_leave_their_collection(make_hook, mode: str, file_id: str) -> None:
    script = Script(ok())
    hook = make_hook(script)

    with raises(InvalidArgumentError):
        await _retrieve_file(hook, file_id, mode)

    assert script.attempts == 0


@MODES
async def test_an_html_error_page_is_summarised(make_hook, mode: str) -> None:
    page = b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>" + b"x" * 50_000
    script = Script(httpx.Response(503, content=page, headers={"content-type": "text/html"}))

    with raises(InternalServerError) as info:
        await send(make_hook(script), RequestSpec("GET", "models"), mode)

    assert "503 Service Temporarily Unavailable" in str(info.value)
    assert len(str(info.value)) < 200


@MODES
async def test_an_openai_error_reaches_the_caller_with_its_fields(make_hook, mode: str) -> None:
    body = {
        "error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    script = Script(httpx.Response(401, json=body, headers={"x-request-id": "req_abc"}))

    with raises(AuthenticationError) as info:
        await send(make_hook(script), RequestSpec("GET", "models"), mode)

    assert (info.value.code, info.value.request_id) == ("invalid_api_key", "req_abc")
    assert "Incorrect API key provided" in str(info.value)


def test_test_connection_reports_openais_message_on_401(make_hook) -> None:
    script = Script(error(401, "Incorrect API key provided: sk-test***cdef."))

    works, message = make_hook(script).test_connection()

    assert works is False
    assert "Incorrect API key provided" in message
    assert SENTINEL_KEY not in message


def test_test_connection_succeeds_with_the_model_count(make_hook) -> None:
    models = {"object": "list", "data": [{"id": "gpt-4o"}, {"id": "whisper-1"}], "has_more": False}
    script = Script(ok(models))

    works, message = make_hook(script).test_connection()

    assert works is True
    assert "2 models" in message and "https://api.test/v1" in message
    assert script.requests[0].url.path == "/v1/models"


def test_test_connection_says_what_it_checked(make_hook) -> None:
    models = {"object": "list", "data": [{"id": "gpt-5.6-luna"}], "has_more": False}
    hook = make_hook(Script(ok(models)), project_id="proj_1", timeout=30, max_retries=4)

    works, message = hook.test_connection()

    assert works is True
    assert message == (
        "Connection works: 1 models available at https://api.test/v1 (GET /models with the API key, project proj_1; "
        "timeout 30 s, 4 retries)"
    )


def test_a_missing_connection_says_how_to_define_it(monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowNotFoundException

    from airflow_provider_openai_fusion.hooks import OpenAIFusionHook

    monkeypatch.delenv("AIRFLOW_CONN_MY_OPENAI", raising=False)
    with pytest.raises(AirflowNotFoundException) as info:
        _ = OpenAIFusionHook(conn_id="my_openai").settings
    message = str(info.value)
    assert "'my_openai' is not defined" in message and "type 'OpenAI Fusion'" in message
    assert """AIRFLOW_CONN_MY_OPENAI='{"conn_type": "openai_fusion", "password": "sk-..."}'""" in message

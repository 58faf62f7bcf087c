"""The custom API call: the key goes only to the Base URL, inputs are checked first, the XCom holds no secret."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError, NotFoundError
from airflow_provider_openai_fusion.operators import OpenAICustomAPICallOperator
from tests.conftest import SENTINEL_KEY
from tests.unit.helpers import Script, error, raises


def call(make_hook: Any, reply: httpx.Response, **kwargs: Any) -> tuple[dict[str, Any], Script]:
    script = Script(reply)
    operator = OpenAICustomAPICallOperator(task_id="call", **kwargs)
    operator.hook = make_hook(script)
    return operator.execute({}), script


def test_get_with_query_goes_under_the_base_url_with_the_key(make_hook) -> None:
    reply = httpx.Response(
        200,
        json={"object": "list", "data": []},
        headers={"x-request-id": "req_9", "set-cookie": "session=secret", "openai-processing-ms": "12"},
    )
    result, script = call(make_hook, reply, url="/files", query={"purpose": "batch", "limit": 2})
    request = script.requests[0]
    assert str(request.url) == "https://api.test/v1/files?purpose=batch&limit=2"
    assert request.method == "GET" and request.headers["authorization"] == f"Bearer {SENTINEL_KEY}"
    assert result["status_code"] == 200 and result["body"] == {"object": "list", "data": []}
    assert result["headers"]["x-request-id"] == "req_9" and result["headers"]["openai-processing-ms"] == "12"
    assert "set-cookie" not in result["headers"]
    assert SENTINEL_KEY not in json.dumps(result)


@pytest.mark.parametrize("body", [{"input": "hi"}, '{"input": "hi"}', [1, 2], "[1, 2]"])
def test_post_sends_json_body_and_headers(make_hook, body: Any) -> None:
    reply = httpx.Response(200, json={"ok": True})
    result, script = call(
        make_hook, reply, url="moderations", method="post", body=body, headers='{"OpenAI-Beta": "assistants=v2"}'
    )
    request = script.requests[0]
    expected = json.loads(body) if isinstance(body, str) else body
    assert request.method == "POST" and json.loads(request.content) == expected
    assert request.headers["openai-beta"] == "assistants=v2"
    assert request.headers["content-type"] == "application/json"
    assert result["body"] == {"ok": True}


def test_text_body_is_text_and_binary_body_stays_out_of_xcom(make_hook) -> None:
    text = httpx.Response(200, content=b"1\n00:00:00,000 --> 00:00:01,000\nhi", headers={"content-type": "text/plain"})
    assert call(make_hook, text, url="audio/x")[0]["body"].startswith("1\n00:00")
    binary = httpx.Response(200, content=b"\x89PNG\r\n\x1a\n\xff\xfe", headers={"content-type": "image/png"})
    assert call(make_hook, binary, url="files/file-1/content")[0]["body"] is None
    empty = httpx.Response(204)
    assert call(make_hook, empty, url="files/file-1", method="DELETE")[0] == {
        "status_code": 204,
        "headers": {},
        "body": None,
    }


def test_api_error_is_raised_with_openai_message(make_hook) -> None:
    with raises(NotFoundError, match="No such File"):
        call(make_hook, error(404, "No such File object: file-x"), url="files/file-x")


@pytest.mark.parametrize(
    ("kwargs", "argument", "reason"),
    [
        ({"url": "https://evil.example/v1/models"}, "url", "not an absolute URL"),
        ({"url": "//evil.example/models"}, "url", "not an absolute URL"),
        ({"url": "../admin"}, "url", "'..' segments"),
        ({"url": "files/../../admin"}, "url", "'..' segments"),
        ({"url": "%2e%2e/admin"}, "url", "'..' segments"),
        ({"url": "models\\x"}, "url", "backslashes"),
        ({"url": "user@evil.example/models"}, "url", "'@'"),
        ({"url": "models\r\nX-Injected: 1"}, "url", "control characters"),
        ({"url": "models?limit=1"}, "url", "pass the query as 'query'"),
        ({"url": ""}, "url", "non-empty path"),
        ({"url": "models", "method": "HEAD"}, "method", "must be one of"),
        ({"url": "models", "headers": "{oops"}, "headers", "not valid JSON"),
        ({"url": "models", "headers": "[1]"}, "headers", "must be a JSON object"),
        ({"url": "models", "headers": {"X-A": {"b": 1}}}, "headers", "must be text or a number"),
        ({"url": "models", "headers": {"Authorization": "Bearer sk-other"}}, "headers", "must not set Authorization"),
        ({"url": "models", "headers": {"authorization": "Basic eA=="}}, "headers", "must not set Authorization"),
        ({"url": "models", "query": "limit=1"}, "query", "not valid JSON"),
        ({"url": "models", "query": {"a": {"b": 1}}}, "query", "text, a number or a list"),
        ({"url": "models", "method": "POST", "body": "{oops"}, "body", "not valid JSON"),
        ({"url": "models", "method": "POST", "body": '"text"'}, "body", "JSON object or array"),
        ({"url": "models", "body": {"a": 1}}, "body", "GET request carries no body"),
    ],
)
def test_bad_input_fails_before_any_request(make_hook, kwargs: dict, argument: str, reason: str) -> None:
    script = Script(httpx.Response(200, json={}))
    operator = OpenAICustomAPICallOperator(task_id="call", **kwargs)
    operator.hook = make_hook(script)
    with raises(InvalidArgumentError, match=reason) as info:
        operator.execute({})
    assert info.value.argument == argument
    assert script.attempts == 0


def test_template_fields() -> None:
    assert set(OpenAICustomAPICallOperator.template_fields) == {"conn_id", "url", "headers", "query", "body"}
    assert OpenAICustomAPICallOperator.template_fields_renderers == {"headers": "json", "query": "json", "body": "json"}

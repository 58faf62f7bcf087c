"""
Small tricks, from a DAG run's conf or from a compatible server: a templated ``text_format`` that would import a
module, a job ``status`` that would forge task log lines, an MCP tool's token echoed into the Responses XCom.
"""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from airflow_provider_openai_fusion.api._structured import structured_format
from airflow_provider_openai_fusion.api.responses import retrieve_response
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError
from tests.unit.helpers import Script, raises, send
from tests.unit.responses_fake import FakeResponsesAPI, context, message, response
from tests.unit.test_responses_operator import operator

CANARY = "tests.unit._import_canary"
SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}}}


class Label(BaseModel):
    label: str


class _Hidden(BaseModel):
    label: str


def test_a_dotted_path_never_imports_a_module() -> None:
    assert CANARY not in sys.modules
    with raises(InvalidArgumentError, match="is not imported; text_format imports nothing") as info:
        structured_format(f"{CANARY}:Canary")
    assert info.value.argument == "text_format"
    assert CANARY not in sys.modules


@pytest.mark.parametrize(
    ("path", "match"),
    [
        (f"{__name__}:_Hidden", "public names"),
        (f"{__name__}:Label.__init__", "public names"),
        (f"{__name__}:Label.__globals__", "public names"),
        ("os:getcwd", "it must name a pydantic model class or a schema dict"),
        ("os:environ", "it must name a pydantic model class or a schema dict"),
        ("os.path:join", "it must name a pydantic model class or a schema dict"),
        ("builtins:object", "it must name a pydantic model class or a schema dict"),
        ("os:../../etc", "public names"),
        ("../x:Y", "public names"),
        (f"{__name__}:NoSuchName", "has no 'NoSuchName'"),
    ],
)
def test_a_dotted_path_names_only_a_public_model_or_dict(path: str, match: str) -> None:
    with raises(InvalidArgumentError, match=match) as info:
        structured_format(path)
    assert info.value.argument == "text_format"


def test_a_dotted_path_to_an_imported_class_or_dict_still_works() -> None:
    assert structured_format(f"{__name__}:Label").source is Label
    assert structured_format(f"{__name__}:SCHEMA").schema["required"] == ["label"]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "status", ["in_progress\x1b[2J", "queued\nERROR - Task failed: forged line", "done\r", "s\x85", "x" * 65]
)
async def test_a_status_that_would_forge_log_lines_fails_the_answer(make_hook: Any, status: str, mode: str) -> None:
    hook = make_hook(Script(httpx.Response(200, json=response(status))))
    with raises(APIResponseValidationError, match="'status' must be printable ASCII text") as info:
        await send(hook, retrieve_response("resp_1"), mode)
    assert status not in str(info.value)


def test_a_printable_status_the_api_adds_later_still_passes(make_hook: Any) -> None:
    hook = make_hook(Script(httpx.Response(200, json=response("paused for review"))))
    assert hook.request(retrieve_response("resp_1"))["status"] == "paused for review"


def test_an_echoed_mcp_token_never_reaches_the_xcom(make_hook: Any) -> None:
    tools = [
        {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.test", "authorization": "tok-MCP-1"},
        {"type": "mcp", "server_label": "wiki", "headers": {"Authorization": "Bearer tok-MCP-2"}},
        {"type": "web_search"},
    ]
    api = FakeResponsesAPI(("completed",), output=[message("hi")], tools=tools)

    xcom = operator(make_hook, api, tools=[{"type": "web_search"}]).execute(context())

    assert xcom["tools"] == [
        {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.test"},
        {"type": "mcp", "server_label": "wiki"},
        {"type": "web_search"},
    ]
    assert "tok-MCP" not in repr(xcom) and xcom["output_text"] == "hi"

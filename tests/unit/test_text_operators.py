"""The text operators: the request each sends, the validation that stops bad input first, the XCom shape."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pendulum
import pytest
from airflow.sdk import DAG

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators import (
    OpenAIChatCompletionOperator,
    OpenAICompletionOperator,
    OpenAIEditOperator,
    OpenAIModerationOperator,
)
from tests.conftest import SENTINEL_KEY
from tests.unit.helpers import Script, ok, raises

CHAT_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
USER = [{"role": "user", "content": "Hello"}]


def run(make_hook: Any, operator: Any, answer: dict[str, Any]) -> tuple[Any, Script]:
    script = Script(ok(answer))
    operator.hook = make_hook(script)
    return operator.execute({}), script


def sent(script: Script, index: int = 0) -> tuple[httpx.Request, dict[str, Any]]:
    request = script.requests[index]
    return request, json.loads(request.content)


def test_completion_sends_named_arguments_and_advanced(make_hook) -> None:
    answer = {"id": "cmpl-1", "object": "text_completion", "choices": [{"text": " yes", "index": 0}]}
    operator = OpenAICompletionOperator(
        task_id="t", model="gpt-3.5-turbo-instruct", prompt="Say yes", temperature=0.5, advanced={"max_tokens": 5}
    )
    result, script = run(make_hook, operator, answer)
    request, body = sent(script)
    assert result == answer
    assert (request.method, str(request.url)) == ("POST", "https://api.test/v1/completions")
    assert request.headers["authorization"] == f"Bearer {SENTINEL_KEY}"
    assert body == {"model": "gpt-3.5-turbo-instruct", "prompt": "Say yes", "temperature": 0.5, "max_tokens": 5}


def test_chat_accepts_messages_as_json_text_and_returns_the_response(make_hook, capsys) -> None:
    operator = OpenAIChatCompletionOperator(
        task_id="t", model="gpt-4o-mini", messages=json.dumps(USER), advanced='{"max_completion_tokens": 9}'
    )
    result, script = run(make_hook, operator, CHAT_ANSWER)
    logged = capsys.readouterr().out
    request, body = sent(script)
    assert result == CHAT_ANSWER
    assert str(request.url) == "https://api.test/v1/chat/completions"
    assert body == {"model": "gpt-4o-mini", "messages": USER, "max_completion_tokens": 9}
    assert "'Hi!'" in logged and "Usage of gpt-4o-mini: input 5, output 2, total 7 tokens" in logged
    assert SENTINEL_KEY not in logged


def test_chat_accepts_every_role(make_hook) -> None:
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "system", "content": [{"type": "text", "text": "Use tools."}], "name": "policy_1"},
        {"role": "user", "content": "Weather?", "name": "ada"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function"}]},
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
        {"role": "function", "content": "sunny", "name": "weather"},
    ]
    _, script = run(make_hook, OpenAIChatCompletionOperator(task_id="t", model="m", messages=messages), CHAT_ANSWER)
    assert sent(script)[1]["messages"] == [{k: v for k, v in m.items() if v is not None} for m in messages]


def test_edit_runs_a_chat_completion_with_instruction_as_system_message(make_hook) -> None:
    operator = OpenAIEditOperator(task_id="t", model="gpt-4o-mini", instruction="Fix spelling.", input="teh cat")
    result, script = run(make_hook, operator, CHAT_ANSWER)
    request, body = sent(script)
    assert result == CHAT_ANSWER and request.url.path == "/v1/chat/completions"
    assert body["messages"] == [{"role": "system", "content": "Fix spelling."}, {"role": "user", "content": "teh cat"}]


def test_edit_without_input_sends_the_instruction_as_the_user_message(make_hook) -> None:
    operator = OpenAIEditOperator(task_id="t", model="gpt-4o-mini", instruction="Write a haiku.", temperature=1.5)
    _, script = run(make_hook, operator, CHAT_ANSWER)
    assert sent(script)[1] == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Write a haiku."}],
        "temperature": 1.5,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("I am fine", "I am fine"),
        (["a", "b"], ["a", "b"]),
        ('["a", "b"]', ["a", "b"]),
        ("[citation needed] text", "[citation needed] text"),
    ],
)
def test_moderation_sends_input_and_omits_an_unset_model(make_hook, value: Any, expected: Any) -> None:
    answer = {"id": "modr-1", "model": "omni-moderation-latest", "results": [{"flagged": False}]}
    result, script = run(make_hook, OpenAIModerationOperator(task_id="t", input=value), answer)
    request, body = sent(script)
    assert result == answer and str(request.url) == "https://api.test/v1/moderations"
    assert body == {"input": expected}


def _ops() -> dict[str, Any]:
    return {
        "completion": lambda **kw: OpenAICompletionOperator(task_id="t", **{"model": "m", "prompt": "p", **kw}),
        "chat": lambda **kw: OpenAIChatCompletionOperator(task_id="t", **{"model": "m", "messages": USER, **kw}),
        "edit": lambda **kw: OpenAIEditOperator(task_id="t", **{"model": "m", "instruction": "i", **kw}),
        "moderation": lambda **kw: OpenAIModerationOperator(task_id="t", **{"input": "x", **kw}),
    }


@pytest.mark.parametrize(
    ("kind", "kwargs", "argument", "reason"),
    [
        ("completion", {"temperature": 2.5}, "temperature", "less than or equal to 2"),
        ("chat", {"temperature": -0.1}, "temperature", "greater than or equal to 0"),
        ("edit", {"temperature": 3}, "temperature", "less than or equal to 2"),
        ("completion", {"prompt": None}, "prompt", "required"),
        ("completion", {"model": "   "}, "model", "is blank"),
        ("chat", {"messages": []}, "messages", "required"),
        ("chat", {"messages": "not json"}, "messages", "not valid JSON"),
        ("chat", {"messages": '{"role": "user"}'}, "messages", "must be a JSON list"),
        ("chat", {"messages": ["hello"]}, "messages", "valid dictionary"),
        ("chat", {"messages": [{"role": "robot", "content": "x"}]}, "messages", "'system', 'developer', 'user'"),
        ("chat", {"messages": [{"role": "user"}]}, "messages", "needs 'content'"),
        ("chat", {"messages": [{"role": "user", "content": "x", "name": "Ada Lovelace"}]}, "messages", "pattern"),
        ("chat", {"messages": [{"role": "user", "content": "x", "name": "a" * 65}]}, "messages", "pattern"),
        ("chat", {"messages": [{"role": "tool", "content": "x"}]}, "messages", "tool_call_id"),
        ("chat", {"messages": [{"role": "function", "content": "x"}]}, "messages", "needs 'name'"),
        (
            "chat",
            {"messages": [{"role": "user", "content": "x", "colour": 1}]},
            "messages",
            "'colour' is not a field .* .at 0.colour",
        ),
        ("chat", {"advanced": {"model": "other"}}, "advanced", "named argument"),
        ("chat", {"advanced": {"temperatur": 1}}, "advanced.temperatur", "not a field"),
        ("chat", {"advanced": {"stream": True}}, "advanced.stream", "streaming is not supported"),
        ("chat", {"advanced": "{not json"}, "advanced", "not valid JSON"),
        ("chat", {"advanced": {"n": 0}}, "advanced.n", "greater than or equal to 1"),
        ("completion", {"advanced": {"logprobs": 9}}, "advanced.logprobs", "less than or equal to 5"),
        ("edit", {"instruction": ""}, "instruction", "required"),
        ("edit", {"input": ["a"]}, "input", "must be text"),
        ("edit", {"advanced": {"messages": []}}, "advanced", "named argument"),
        ("moderation", {"input": ""}, "input", "required"),
        ("moderation", {"input": []}, "input", "required"),
        ("moderation", {"input": [1, 2]}, "input", "valid"),
    ],
)
def test_bad_input_fails_before_any_request(make_hook, kind: str, kwargs: dict, argument: str, reason: str) -> None:
    script = Script(ok(CHAT_ANSWER))
    operator = _ops()[kind](**kwargs)
    operator.hook = make_hook(script)
    with raises(InvalidArgumentError, match=reason) as info:
        operator.execute({})
    assert info.value.argument == argument
    assert script.attempts == 0


def test_template_fields_cover_what_comes_from_upstream() -> None:
    assert set(OpenAICompletionOperator.template_fields) == {"conn_id", "model", "prompt", "advanced"}
    chat_fields = {"conn_id", "model", "messages", "advanced", "prompt_cache_key", "items", "items_path", "output_path"}
    assert set(OpenAIChatCompletionOperator.template_fields) == chat_fields
    edit_fields = {"conn_id", "model", "instruction", "input", "advanced", "prompt_cache_key"}
    assert set(OpenAIEditOperator.template_fields) == edit_fields
    assert set(OpenAIModerationOperator.template_fields) == {"conn_id", "input", "model"}
    renderers = {"messages": "json", "advanced": "json", "items": "json"}
    assert OpenAIChatCompletionOperator.template_fields_renderers == renderers


def test_mapped_over_inputs_with_partial_expand() -> None:
    with DAG("fan_out", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        mapped = OpenAIModerationOperator.partial(task_id="moderate", model="omni-moderation-latest").expand(
            input=["a", "b", "c"]
        )
        chats = OpenAIChatCompletionOperator.partial(task_id="chat", model="gpt-4o-mini").expand(
            messages=[USER, [{"role": "user", "content": "Bye"}]]
        )
    assert dag.task_dict["moderate"] is mapped and mapped.expand_input.value == {"input": ["a", "b", "c"]}
    assert chats.partial_kwargs["model"] == "gpt-4o-mini"

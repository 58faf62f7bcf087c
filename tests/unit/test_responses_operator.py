"""OpenAIResponseOperator: argument checks before any request, results, background waits, retries, cancel."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred
from pydantic import BaseModel

from airflow_provider_openai_fusion.exceptions import (
    InvalidArgumentError,
    JobFailedError,
    ResponseRefusedError,
    StructuredOutputError,
)
from airflow_provider_openai_fusion.operators import OpenAIResponseOperator
from airflow_provider_openai_fusion.operators.responses import STATE_KEY
from airflow_provider_openai_fusion.triggers import OpenAIResponseTrigger
from tests.unit.responses_fake import FakeResponsesAPI, StateStore, context, message


class Verdict(BaseModel):
    label: str
    score: float


def operator(make_hook: Any, api: Any, **kwargs: Any) -> OpenAIResponseOperator:
    kwargs.setdefault("model", "gpt-4o-mini")
    kwargs.setdefault("input", "hello")
    kwargs.setdefault("poll_interval", 0.001)
    task = OpenAIResponseOperator(task_id="respond", deferrable=kwargs.pop("deferrable", False), **kwargs)
    task.hook = make_hook(api)
    return task


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"input": ""}, "input"),
        ({"input": "   "}, "input"),
        ({"input": []}, "input"),
        ({"input": "[]"}, "input"),
        ({"input": [{"content": "no role"}]}, "input"),
        ({"input": [{"role": "user", "content": ""}]}, "input"),
        ({"model": ""}, "model"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": 15}, "max_output_tokens"),
        ({"max_input_tokens": -5}, "max_input_tokens"),
        ({"max_input_tokens": "0"}, "max_input_tokens"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"timeout": -1}, "timeout"),
        ({"temperature": 3}, "temperature"),
        ({"metadata": {f"k{n}": "v" for n in range(17)}}, "metadata"),
        ({"text_format": "no_such_package.models:Thing"}, "text_format"),
        ({"text_format": "json:NoSuchClass"}, "text_format"),
        ({"text_format": "not a path"}, "text_format"),
        ({"text_format": {"type": "object", "additionalProperties": {"type": "string"}}}, "text_format"),
        ({"text_format": {"type": "array", "items": {"type": "string"}}}, "text_format"),
        ({"text_format": {"name": "bad name!", "schema": {"type": "object"}}}, "text_format"),
        ({"tools": [{"type": "function", "name": "f", "parameters": {}}]}, "tools"),
        ({"tools": '[{"type": "custom", "name": "c"}]'}, "tools"),
        ({"advanced": {"stream": True}}, "advanced.stream"),
        ({"advanced": {"background": True}}, "advanced.background"),
        ({"advanced": {"store": False}, "background": True}, "advanced.store"),
        ({"advanced": {"model": "x"}}, "advanced"),
        ({"advanced": {"nonsense": 1}}, "advanced.nonsense"),
        ({"returns": "all"}, "returns"),
        ({"returns": "parsed"}, "returns"),
    ],
)
def test_bad_arguments_fail_before_any_request_naming_the_argument(
    make_hook: Any, kwargs: dict[str, Any], argument: str
) -> None:
    api = FakeResponsesAPI()
    with pytest.raises(InvalidArgumentError) as info:
        operator(make_hook, api, **kwargs).execute(context(StateStore()))
    assert info.value.argument == argument, info.value
    assert api.requests == []


def test_a_function_tool_is_refused_with_what_to_do_instead(make_hook: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"needs the caller to run each call.*@task with OpenAIFusionHook"):
        operator(make_hook, FakeResponsesAPI(), tools=[{"type": "function", "name": "f"}]).execute(context())


def logged(capsys: Any, caplog: Any) -> str:
    """What the task logged (structlog writes to stdout; stdlib logging to caplog)."""
    return capsys.readouterr().out + "\n".join(r.getMessage() for r in caplog.records)


def test_text_comes_back_with_output_text_joined_and_usage_logged(make_hook: Any, capsys: Any, caplog: Any) -> None:
    output = [message("Hello, "), {"type": "web_search_call", "id": "ws_1", "status": "completed"}, message("world")]
    api = FakeResponsesAPI(("completed",), output=output)
    task = operator(make_hook, api, tools=[{"type": "web_search"}], instructions="Be brief")
    with caplog.at_level("INFO"):
        result = task.execute(context())
    assert result["output_text"] == "Hello, world" and result["output"][1]["type"] == "web_search_call"
    assert "output_parsed" not in result
    body = json.loads(api.calls("POST")[0].content)
    tools = [{"type": "web_search"}]
    assert body == {"model": "gpt-4o-mini", "input": "hello", "instructions": "Be brief", "tools": tools}
    assert "Usage of gpt-4o-mini: input 10, output 5, total 15 tokens" in logged(capsys, caplog)


def test_input_items_as_json_text_are_sent_as_a_list(make_hook: Any) -> None:
    api = FakeResponsesAPI(("completed",))
    items = [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
    operator(make_hook, api, input=json.dumps(items)).execute(context())
    assert json.loads(api.calls("POST")[0].content)["input"] == items


def test_a_pydantic_format_is_sent_strict_and_parsed_back(make_hook: Any) -> None:
    api = FakeResponsesAPI(("completed",), output=[message('{"label": "spam", "score": 0.9}')])
    result = operator(make_hook, api, text_format=Verdict).execute(context())
    assert result["output_parsed"] == {"label": "spam", "score": 0.9}
    fmt = json.loads(api.calls("POST")[0].content)["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["strict"]) == ("json_schema", "Verdict", True)
    assert fmt["schema"]["required"] == ["label", "score"] and fmt["schema"]["additionalProperties"] is False


def test_returns_parsed_or_text_keeps_only_the_id_the_metadata_and_the_answer(make_hook: Any) -> None:
    key = {"document": "inv-7"}
    api = FakeResponsesAPI(("completed",), output=[message('{"label": "spam", "score": 0.9}')], metadata=key)
    parsed = operator(make_hook, api, text_format=Verdict, metadata=key, returns="parsed").execute(context())
    assert parsed == {"id": "resp_1", "metadata": key, "output_parsed": {"label": "spam", "score": 0.9}}
    assert json.loads(api.calls("POST")[0].content)["metadata"] == key
    text = operator(make_hook, api, returns="text").execute(context())
    assert text == {"id": "resp_1", "metadata": key, "output_text": '{"label": "spam", "score": 0.9}'}
    full = operator(make_hook, api, text_format=Verdict).execute(context())
    assert full["output"] and full["usage"] and full["output_parsed"] == parsed["output_parsed"]
    assert len(json.dumps(parsed)) < len(json.dumps(full)) / 2


@pytest.mark.parametrize(
    ("text_format", "answer", "match"),
    [
        (Verdict, '{"label": "spam", "score": "high"}', "at score: Input should be a valid number"),
        (Verdict, "not json", r"at \(root\)"),
        ({"type": "object", "properties": {"n": {"type": "integer"}}}, '{"n": "x"}', "at n: 'x' is not of type"),
        ({"type": "object", "properties": {"n": {"type": "integer"}}}, '{"n": 1, "m": 2}', r"at \(root\): Addit"),
        ({"type": "object", "properties": {"n": {"type": "integer"}}}, "{oops", r"at \(root\): not JSON"),
    ],
)
def test_an_answer_that_does_not_match_fails_naming_the_field(
    make_hook: Any, text_format: Any, answer: str, match: str
) -> None:
    api = FakeResponsesAPI(("completed",), output=[message(answer)])
    with pytest.raises(StructuredOutputError, match=match):
        operator(make_hook, api, text_format=text_format).execute(context())


def test_a_dotted_path_text_format_is_imported(make_hook: Any) -> None:
    api = FakeResponsesAPI(("completed",), output=[message('{"label": "ok", "score": 1}')])
    path = f"{__name__}:Verdict"
    assert operator(make_hook, api, text_format=path).execute(context())["output_parsed"]["label"] == "ok"


def test_a_refusal_fails_with_the_refusal_text(make_hook: Any) -> None:
    api = FakeResponsesAPI(("completed",), output=[message("I can't help with that.", "refusal")])
    with pytest.raises(ResponseRefusedError, match=r"the model refused: I can't help with that\."):
        operator(make_hook, api, text_format=Verdict).execute(context())


def test_the_input_token_guard_counts_first_and_stops_over_the_limit(make_hook: Any) -> None:
    api = FakeResponsesAPI(("completed",))
    with pytest.raises(InvalidArgumentError, match="the input counts 42 tokens, over the limit of 41"):
        operator(make_hook, api, max_input_tokens=41, temperature=0.2).execute(context())
    assert api.calls("POST") == [] and len(api.calls("POST", "/input_tokens")) == 1
    counted = json.loads(api.calls("POST", "/input_tokens")[0].content)
    assert counted == {"model": "gpt-4o-mini", "input": "hello"}
    assert operator(make_hook, api, max_input_tokens=42).execute(context())["status"] == "completed"


def test_a_background_response_is_created_stored_waited_for_and_forgotten(make_hook: Any) -> None:
    api, store = FakeResponsesAPI(), StateStore()
    seen: list[Any] = []
    store.set = lambda key, value: (seen.append(value), store.values.__setitem__(key, value))  # type: ignore[method-assign]
    result = operator(make_hook, api, background=True).execute(context(store))
    assert result["status"] == "completed" and result["output_text"] == "hello"
    body = json.loads(api.calls("POST")[0].content)
    assert (body["background"], body["store"]) == (True, True)
    assert seen[0]["id"] == "resp_1" and STATE_KEY not in store.values
    assert len(api.calls("GET", "/resp_1")) == 2


@pytest.mark.parametrize(
    ("final", "match"),
    [
        ({"status": "failed", "error": {"code": "server_error", "message": "boom"}}, "failed: boom"),
        ({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}, r"early \(content_filter\)"),
        ({"status": "cancelled"}, "was cancelled"),
    ],
)
def test_a_background_response_that_does_not_complete_fails(make_hook: Any, final: dict[str, Any], match: str) -> None:
    status, details = final["status"], {k: v for k, v in final.items() if k != "status"}
    api, store = FakeResponsesAPI(("queued", status), **details), StateStore()
    with pytest.raises(JobFailedError, match=match):
        operator(make_hook, api, background=True).execute(context(store))
    assert STATE_KEY not in store.values


def test_incomplete_is_returned_when_allowed(make_hook: Any) -> None:
    api = FakeResponsesAPI(("incomplete",), incomplete_details={"reason": "max_output_tokens"}, output=[message("ab")])
    assert operator(make_hook, api, allow_incomplete=True).execute(context())["output_text"] == "ab"


def test_a_retry_re_attaches_to_the_running_response_and_creates_none(make_hook: Any) -> None:
    store = StateStore()
    first = FakeResponsesAPI(("queued", "in_progress"))
    with pytest.raises(AirflowSensorTimeout):
        operator(make_hook, first, background=True, timeout=0.01, poll_interval=0.02).execute(context(store))
    assert len(first.calls("POST", "/cancel")) == 1  # the timeout cancelled it
    store.values[STATE_KEY] = dict(store.values[STATE_KEY])
    second = FakeResponsesAPI(("in_progress", "in_progress", "completed"))
    result = operator(make_hook, second, background=True).execute(context(store, try_number=2))
    assert result["status"] == "completed" and second.calls("POST") == []


def test_a_retry_whose_request_changed_or_whose_response_ended_creates_a_new_one(make_hook: Any) -> None:
    store = StateStore()
    store.set(STATE_KEY, {"id": "resp_1", "request": "another request"})
    api = FakeResponsesAPI()
    operator(make_hook, api, background=True).execute(context(store))
    assert len(api.calls("POST")) == 1 and api.calls("GET", "/resp_1")
    failed = FakeResponsesAPI(("queued", "failed"), error={"code": "server_error", "message": "x"})
    task = operator(make_hook, failed, background=True)
    body, _ = task._request()
    from airflow_provider_openai_fusion.operators.responses import _fingerprint

    store.set(STATE_KEY, {"id": "resp_1", "request": _fingerprint(body)})
    with pytest.raises(JobFailedError):  # the earlier one failed: a new one is created (and this fake fails too)
        task.execute(context(store))
    assert [r.method for r in failed.requests] == ["GET", "POST"]


def test_without_a_task_state_store_the_response_is_still_waited_for(make_hook: Any, capsys: Any, caplog: Any) -> None:
    with caplog.at_level("WARNING"):
        result = operator(make_hook, FakeResponsesAPI(), background=True).execute(context())
    assert result["status"] == "completed" and "cannot find this try's response again" in logged(capsys, caplog)


def test_deferrable_background_defers_and_resumes_from_the_event(make_hook: Any) -> None:
    api, store = FakeResponsesAPI(), StateStore()
    task = operator(make_hook, api, background=True, deferrable=True, text_format=None, timeout=60)
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context(store))
    trigger = deferred.value.trigger
    assert isinstance(trigger, OpenAIResponseTrigger)
    assert (trigger.job_id, trigger.cancel_on_kill) == ("resp_1", True) and trigger.deadline is not None
    assert api.calls("GET") == [] and store.values[STATE_KEY]["id"] == "resp_1"
    trigger.hook = make_hook(api)

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    event = asyncio.run(first_event())
    assert event == {"status": "completed", "job_id": "resp_1"}  # ids only: the event is stored in the database
    polls = len(api.calls("GET", "/resp_1"))
    resumed = operator(make_hook, api, background=True, deferrable=True)
    assert resumed.execute_complete(context(store), event)["output_text"] == "hello"
    assert len(api.calls("GET", "/resp_1")) == polls + 1  # the response is read again on resuming
    assert STATE_KEY not in store.values


def test_a_timeout_event_cancels_the_response(make_hook: Any) -> None:
    api = FakeResponsesAPI()
    task = operator(make_hook, api, background=True, deferrable=True)
    with pytest.raises(AirflowSensorTimeout):
        task.execute_complete(context(StateStore()), {"status": "timeout", "job_id": "resp_9", "message": "late"})
    assert [r.url.path for r in api.calls("POST", "/cancel")] == ["/v1/responses/resp_9/cancel"]


def test_a_timeout_event_whose_trigger_cancelled_the_response_does_not_cancel_it_again(make_hook: Any) -> None:
    api = FakeResponsesAPI()
    task = operator(make_hook, api, background=True, deferrable=True)
    event = {"status": "timeout", "job_id": "resp_9", "message": "late", "cancelled": True}
    with pytest.raises(AirflowSensorTimeout, match="late"):
        task.execute_complete(context(StateStore()), event)
    assert api.calls("POST", "/cancel") == []


def test_on_kill_cancels_a_background_response_only(make_hook: Any) -> None:
    api = FakeResponsesAPI()
    task = operator(make_hook, api, background=True)
    task._response_id = "resp_1"
    task.on_kill()
    plain = operator(make_hook, api)
    plain._response_id = "resp_2"
    plain.on_kill()
    assert [r.url.path for r in api.calls("POST", "/cancel")] == ["/v1/responses/resp_1/cancel"]


def test_mapped_over_inputs_with_partial_expand() -> None:
    from airflow.sdk import DAG

    with DAG("responses_mapped", schedule=None) as dag:
        mapped = OpenAIResponseOperator.partial(task_id="extract", model="gpt-4o-mini", text_format=Verdict).expand(
            input=["a", "b"]
        )
    assert dag.task_dict["extract"] is mapped and mapped.expand_input.value == {"input": ["a", "b"]}
    assert mapped.partial_kwargs["text_format"] is Verdict


def test_a_class_text_format_survives_template_rendering(make_hook: Any) -> None:
    api = FakeResponsesAPI(("completed",), output=[message('{"label": "x", "score": 2}')])
    task = operator(make_hook, api, text_format=Verdict, input="{{ 'templated' }}")
    task.render_template_fields(context={})  # type: ignore[arg-type]
    assert task.input == "templated"
    assert task.execute(context())["output_parsed"] == {"label": "x", "score": 2.0}


def test_a_failed_cancel_keeps_the_timeout_as_the_tasks_error(make_hook: Any, capsys: Any, caplog: Any) -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/cancel"):
            return httpx.Response(500, json={"error": {"message": "cancel broke", "type": "server_error"}})
        return FakeResponsesAPI(("queued",))(request)

    with pytest.raises(AirflowSensorTimeout):
        operator(make_hook, handler, background=True, timeout=0.01, poll_interval=0.02).execute(context(StateStore()))
    assert "Could not cancel response resp_1" in logged(capsys, caplog)


def test_a_second_try_on_one_instance_killed_before_creating_cancels_nothing(make_hook: Any) -> None:
    api = FakeResponsesAPI(("queued", "completed"))
    task = operator(make_hook, api, background=True)
    assert task.execute(context(StateStore(), 1))["status"] == "completed"
    task.max_input_tokens = 1
    with pytest.raises(InvalidArgumentError, match="over the limit of 1"):
        task.execute(context(StateStore(), 2))
    task.on_kill()
    assert api.calls("POST", "/cancel") == []

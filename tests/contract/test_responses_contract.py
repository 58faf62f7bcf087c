"""
The Responses API against the stand-in behind ``prism proxy --errors``: every ending, structured output and
cancel, with requests and answers in the shapes of OpenAI's spec. The answers' text, refusals and background
timing are the stand-in's own behaviour (triggered by magic inputs), not a model's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from airflow_provider_openai_fusion.api import responses
from airflow_provider_openai_fusion.exceptions import (
    InvalidArgumentError,
    JobFailedError,
    ResponseRefusedError,
)
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators.responses import STATE_KEY, OpenAIResponseOperator
from airflow_provider_openai_fusion.triggers.responses import OpenAIResponseTrigger
from tests.conftest import Stack, connection_json
from tests.unit.responses_fake import StateStore, context

# The session's stand-in starts in the first test that needs it (up to 120 s).
pytestmark = [pytest.mark.contract, pytest.mark.timeout(300)]
MODEL = "gpt-4o-mini"


class Address(BaseModel):
    city: str
    postcode: str | None = None


class Person(BaseModel):
    name: str
    age: int
    addresses: list[Address]


@pytest.fixture(autouse=True)
def connection(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_DEFAULT", connection_json(stack.base_url, stack.api_key))


@pytest.fixture
def hook() -> Iterator[OpenAIFusionHook]:
    instance = OpenAIFusionHook()
    yield instance
    instance.close()


def run(store: StateStore | None = None, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("model", MODEL)
    operator = OpenAIResponseOperator(task_id="respond", poll_interval=0.05, deferrable=False, **kwargs)
    return operator.execute(context(store or StateStore()))


def test_a_text_answer_comes_back_with_output_text() -> None:
    result = run(input="Airflow schedules pipelines.", instructions="Answer in upper case.")
    assert result["status"] == "completed"
    assert result["output_text"] == "AIRFLOW SCHEDULES PIPELINES."


def test_a_pydantic_text_format_is_sent_strict_and_the_answer_parsed_back() -> None:
    result = run(input="Ada, 36, lives in London.", text_format=Person)
    parsed = result["output_parsed"]
    assert Person.model_validate(parsed).addresses[0].city == "example"
    assert set(parsed) == {"name", "age", "addresses"}


def test_a_dict_schema_with_defs_round_trips() -> None:
    schema = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
        "$defs": {"item": {"type": "object", "properties": {"sku": {"type": "string"}, "n": {"type": "integer"}}}},
    }
    result = run(input="two widgets", text_format={"name": "order", "schema": schema})
    assert result["output_parsed"] == {"items": [{"sku": "example", "n": 1}]}


def test_a_background_response_is_waited_for_and_forgotten_once_done() -> None:
    store = StateStore()
    result = run(store, input="hello there", background=True)
    assert result["status"] == "completed" and result["background"] is True
    assert result["output_text"].startswith("Here is a short answer")
    assert STATE_KEY not in store.values


@pytest.mark.parametrize(
    ("text", "extra", "error", "match"),
    [
        ("please fail", {}, JobFailedError, r"failed: The model failed .*code: server_error"),
        ("please refuse", {}, ResponseRefusedError, "the model refused: I'm sorry"),
        ("x" * 400, {"max_output_tokens": 16}, JobFailedError, r"incomplete: stopped early \(max_output_tokens\)"),
    ],
)
@pytest.mark.parametrize("background", [False, True])
def test_each_unhappy_ending_fails_the_task(
    text: str, extra: dict[str, Any], error: type[Exception], match: str, background: bool
) -> None:
    with pytest.raises(error, match=match):
        run(input=text, background=background, **extra)


def test_an_incomplete_answer_is_kept_when_allowed() -> None:
    result = run(input="x" * 400, max_output_tokens=16, allow_incomplete=True, background=True)
    assert result["status"] == "incomplete" and result["incomplete_details"] == {"reason": "max_output_tokens"}
    assert len(result["output_text"]) == 64


def test_the_timeout_cancels_the_background_response(hook: OpenAIFusionHook) -> None:
    from airflow.sdk.exceptions import AirflowSensorTimeout

    store = StateStore()
    with pytest.raises(AirflowSensorTimeout):
        run(store, input="never finish", background=True, timeout=0.5)
    response_id = store.values[STATE_KEY]["id"]
    assert hook.request(responses.retrieve_response(response_id))["status"] == "cancelled"


def test_a_retry_re_attaches_to_the_running_response_instead_of_paying_twice(hook: OpenAIFusionHook) -> None:
    store = StateStore()
    body = {"model": MODEL, "input": "hello again", "background": True, "store": True}
    first = hook.request(responses.create_response(body))
    from airflow_provider_openai_fusion.operators.responses import _fingerprint

    store.set(STATE_KEY, {"id": first["id"], "request": _fingerprint(body)})
    result = run(store, input="hello again", background=True)
    assert result["id"] == first["id"] and result["status"] == "completed"


def test_the_input_token_guard_fails_before_generating(hook: OpenAIFusionHook) -> None:
    counted = hook.request(responses.count_input_tokens({"model": MODEL, "input": "y" * 400}))["input_tokens"]
    assert counted == 100
    with pytest.raises(InvalidArgumentError, match="input counts 100 tokens, over the limit of 99"):
        run(input="y" * 400, max_input_tokens=99)
    assert run(input="y" * 400, max_input_tokens=100)["status"] == "completed"


def test_the_trigger_waits_with_the_async_client(hook: OpenAIFusionHook) -> None:
    created = hook.request(responses.create_response({"model": MODEL, "input": "hi", "background": True}))
    trigger = OpenAIResponseTrigger(job_id=created["id"], conn_id="openai_fusion_default", poll_interval=0.05)

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    assert event == {"status": "completed", "job_id": created["id"]}  # ids only; the task reads the response again


def test_the_trigger_cancels_on_kill(hook: OpenAIFusionHook) -> None:
    created = hook.request(responses.create_response({"model": MODEL, "input": "never finish", "background": True}))
    trigger = OpenAIResponseTrigger(job_id=created["id"], conn_id="openai_fusion_default", cancel_on_kill=True)
    asyncio.run(trigger.on_kill())
    assert hook.request(responses.retrieve_response(created["id"]))["status"] == "cancelled"

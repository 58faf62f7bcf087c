"""Flex processing against a real loopback server: 429 ``resource_unavailable`` to flex, then one default-tier try."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_openai_fusion._ledger import USAGE_KEY
from airflow_provider_openai_fusion.exceptions import RateLimitError
from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator, OpenAIResponseOperator
from tests.reliability.fault_server import Behaviour, Request, json_reply, openai_error
from tests.unit.test_cost import FakeTI, task_context

USER = [{"role": "user", "content": "Hello"}]
USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}


def no_flex(request: Request) -> Behaviour:
    """Answer 429 resource_unavailable to a flex request, and a chat completion priced at the tier sent otherwise."""
    tier = request.json().get("service_tier")
    if tier == "flex":
        return openai_error(429, "Flex capacity is unavailable.", "rate_limit_error", "resource_unavailable")
    choice = {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
    answer = {"id": "c1", "model": "gpt-5.6-luna", "service_tier": tier, "choices": [choice], "usage": USAGE}
    if request.target.endswith("/responses"):
        output = [{"type": "message", "content": [{"type": "output_text", "text": "Hi"}]}]
        usage = {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500}
        answer = {"id": "r1", "model": "gpt-5.6-luna", "status": "completed", "service_tier": tier}
        answer |= {"output": output, "usage": usage}
    return json_reply(200, answer)


def test_flex_falls_back_once_to_the_default_tier_priced_at_it(server, hook_at, capsys) -> None:
    server.script(no_flex)
    operator = OpenAIChatCompletionOperator(
        task_id="t", model="gpt-5.6-luna", messages=USER, service_tier="flex", flex_fallback=True
    )
    operator.hook = hook_at(server.base_url, max_retries=0)
    ti = FakeTI()
    with task_context(ti) as context:
        result = operator.execute(context)
    assert [r.json()["service_tier"] for r in server.requests] == ["flex", "default"]
    assert result["service_tier"] == "default"
    key, record = ti.pushed[-1]
    assert key == USAGE_KEY and record["service_tier"] == "default" and record["calls"] == 1
    assert record["cost_usd"] == pytest.approx((1000 * 0.20 + 500 * 1.20) / 1_000_000)
    assert "Flex processing unavailable" in capsys.readouterr().out


def test_responses_fall_back_too(server, hook_at) -> None:
    server.script(no_flex)
    operator = OpenAIResponseOperator(
        task_id="t", model="gpt-5.6-luna", input="Hello", service_tier="flex", flex_fallback=True
    )
    operator.hook = hook_at(server.base_url, max_retries=0)
    result: Any = operator.execute({})
    assert [r.json()["service_tier"] for r in server.requests] == ["flex", "default"]
    assert result["output_text"] == "Hi"


def test_without_fallback_the_flex_refusal_fails_the_try_after_the_connection_retries(server, hook_at) -> None:
    server.script(no_flex)
    operator = OpenAIChatCompletionOperator(task_id="t", model="gpt-5.6-luna", messages=USER, service_tier="flex")
    operator.hook = hook_at(server.base_url, max_retries=1)
    with pytest.raises(RateLimitError, match="resource_unavailable"):
        operator.execute({})
    assert [r.json()["service_tier"] for r in server.requests] == ["flex", "flex"]

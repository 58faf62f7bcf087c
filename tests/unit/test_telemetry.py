"""OpenTelemetry GenAI spans and metrics of each call: attributes, retries, errors, the task span as parent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion.api import chat
from airflow_provider_openai_fusion.exceptions import BadRequestError
from airflow_provider_openai_fusion.operators import (
    OpenAIBatchOperator,
    OpenAIChatCompletionOperator,
    OpenAIEmbeddingsOperator,
    OpenAIResponseOperator,
)
from tests.conftest import ROOT, SENTINEL_KEY, connection_json
from tests.unit.batches_fake import FakeBatchAPI
from tests.unit.helpers import Script, error, ok
from tests.unit.otel import points, sdk

CHAT_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-5.6-luna-2026-09-01",
    "service_tier": "default",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "SECRET-ANSWER"}, "finish_reason": "stop"}],
    "usage": {
        "prompt_tokens": 11,
        "completion_tokens": 3,
        "total_tokens": 14,
        "prompt_tokens_details": {"cached_tokens": 4},
    },
}
PROMPT = [{"role": "user", "content": "SECRET-PROMPT"}]


@pytest.fixture
def otel() -> Any:
    exporter, reader = sdk()
    exporter.clear()
    reader.get_metrics_data()  # collect what earlier tests recorded: the next collection holds this test's only
    return SimpleNamespace(spans=exporter.get_finished_spans, reader=reader)


def ours(otel: Any) -> list[Any]:
    return [span for span in otel.spans() if span.instrumentation_scope.name == "airflow_provider_openai_fusion"]


def no_secret_in(spans: list[Any], *secrets: str) -> None:
    for span in spans:
        text = json.dumps(
            {
                "name": span.name,
                "attributes": dict(span.attributes),
                "events": [{"name": event.name, "attributes": dict(event.attributes)} for event in span.events],
            }
        )
        for secret in secrets:
            assert secret not in text, (secret, span.name)


def test_a_chat_call_is_one_client_span_with_the_genai_attributes(make_hook: Any, otel: Any) -> None:
    script = Script(ok(CHAT_ANSWER | {"x": 1}))
    task = OpenAIChatCompletionOperator(task_id="chat", model="gpt-5.6-luna", messages=PROMPT)
    task.hook = make_hook(script)
    task.execute({})
    (span,) = ours(otel)
    assert span.name == "chat gpt-5.6-luna"
    assert span.kind.name == "CLIENT"
    attributes = dict(span.attributes)
    assert attributes | {} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-5.6-luna",
        "server.address": "api.test",
        "server.port": 443,
        "http.request.method": "POST",
        "http.response.status_code": 200,
        "gen_ai.response.model": "gpt-5.6-luna-2026-09-01",
        "gen_ai.response.id": "chatcmpl-1",
        "openai.response.service_tier": "default",
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.usage.cached_tokens": 4,
    }
    no_secret_in([span], SENTINEL_KEY, "SECRET-PROMPT", "SECRET-ANSWER")
    data = otel.reader.get_metrics_data()
    usage = {(p.attributes["gen_ai.token.type"], p.sum) for p in points(data, "gen_ai.client.token.usage")}
    assert usage == {("input", 11), ("output", 3)}
    (duration,) = points(data, "gen_ai.client.operation.duration")
    assert duration.count == 1 and duration.attributes["gen_ai.response.model"] == "gpt-5.6-luna-2026-09-01"


def test_content_is_captured_only_when_asked_and_never_the_key(
    make_hook: Any, otel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    echoed = CHAT_ANSWER | {"choices": [{"index": 0, "message": {"role": "assistant", "content": SENTINEL_KEY}}]}
    hook = make_hook(Script(ok(echoed)))
    hook.request(chat.create_chat_completion({"model": "gpt-5.6-luna", "messages": PROMPT}))
    (span,) = ours(otel)
    assert "SECRET-PROMPT" in span.attributes["gen_ai.input.messages"]
    assert "assistant" in span.attributes["gen_ai.output.messages"]
    no_secret_in([span], SENTINEL_KEY)


def test_retries_are_events_of_the_call_span_and_a_failure_sets_error_type(make_hook: Any, otel: Any) -> None:
    script = Script(error(500, retry_after_ms="1"), error(500, retry_after_ms="1"), error(400, "bad"))
    hook = make_hook(script, max_retries=2)
    with pytest.raises(BadRequestError):
        hook.request(chat.create_chat_completion({"model": "gpt-5.6-luna", "messages": PROMPT}))
    (span,) = ours(otel)
    assert [event.name for event in span.events] == ["retry", "retry"]
    assert [event.attributes["retry.number"] for event in span.events] == [1, 2]
    assert span.attributes["error.type"] == "400"
    assert span.status.status_code.name == "ERROR"
    (duration,) = points(otel.reader.get_metrics_data(), "gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "400"
    assert [record.error_type for record in hook.calls] == ["BadRequestError"]


def test_the_call_span_is_a_child_of_airflows_task_span(make_hook: Any, otel: Any) -> None:
    from airflow.sdk.execution_time.task_runner import _make_task_span

    ti = SimpleNamespace(context_carrier=None, task_id="chat", map_index=-1, dag_id="d", run_id="r", try_number=1)
    task = OpenAIChatCompletionOperator(task_id="chat", model="gpt-5.6-luna", messages=PROMPT)
    task.hook = make_hook(Script(ok(CHAT_ANSWER)))
    with _make_task_span(SimpleNamespace(ti=ti)) as task_span:
        task.execute({})
    (call,) = ours(otel)
    assert call.parent is not None and call.parent.span_id == task_span.get_span_context().span_id
    assert call.context.trace_id == task_span.get_span_context().trace_id


def test_bulk_embeddings_make_a_span_per_request(make_hook: Any, otel: Any) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["input"]
        data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2]} for i in range(len(texts))]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return httpx.Response(
            200, json={"object": "list", "data": data, "model": "text-embedding-3-small", "usage": usage}
        )

    task = OpenAIEmbeddingsOperator(task_id="embed", model="text-embedding-3-small", input=["a"] * 5000, dimensions=2)
    task.hook = make_hook(answer)
    task.execute({})
    spans = ours(otel)
    assert len(spans) == 3
    assert {span.attributes["gen_ai.operation.name"] for span in spans} == {"embeddings"}
    assert sum(span.attributes["gen_ai.usage.input_tokens"] for span in spans) == 5000
    assert task.hook.calls.calls == 3


def test_batch_submit_and_wait_spans_name_each_step(make_hook: Any, otel: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI()
    request = {"model": "gpt-5.6-luna", "messages": PROMPT}
    task = OpenAIBatchOperator(
        task_id="batch",
        endpoint="/v1/chat/completions",
        requests=[request, request],
        output_path=str(tmp_path / "out.jsonl"),
        poll_interval=0.001,
    )
    task.hook = make_hook(api)
    task.execute({"ti": SimpleNamespace(run_id="r", dag_id="d", task_id="batch", map_index=-1, try_number=1)})
    names = [span.attributes["gen_ai.operation.name"] for span in ours(otel)]
    assert names == ["files.create", "batches.create", *["batches.retrieve"] * 3, "files.retrieve", "files.content"]
    no_secret_in(ours(otel), SENTINEL_KEY, "SECRET-PROMPT")


def test_a_response_call_with_file_search_is_a_chat_span(make_hook: Any, otel: Any) -> None:
    answer = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt-5.6-luna",
        "status": "completed",
        "output": [],
        "usage": {"input_tokens": 9, "output_tokens": 2, "total_tokens": 11},
    }
    task = OpenAIResponseOperator(task_id="ask", model="gpt-5.6-luna", input="SECRET-PROMPT")
    task.hook = make_hook(Script(ok(answer)))
    task.execute({})
    (span,) = ours(otel)
    assert span.name == "chat gpt-5.6-luna"
    assert span.attributes["gen_ai.response.id"] == "resp_1"
    no_secret_in([span], "SECRET-PROMPT", SENTINEL_KEY)


def test_without_openlineage_or_an_sdk_calls_are_neither_traced_nor_recorded() -> None:
    code = """
import httpx
from opentelemetry import trace
from airflow_provider_openai_fusion.api import models
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
answer = {"id": "m", "object": "model", "created": 1, "owned_by": "me"}
hook = OpenAIFusionHook(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=answer)))
hook.request(models.retrieve_model("m"))
print(type(trace.get_tracer_provider()).__name__, hook.calls.calls, list(hook.calls))
"""
    env = {**os.environ, "AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json("https://api.test/v1")}
    env.pop("AIRFLOW__OPENLINEAGE__TRANSPORT", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "ProxyTracerProvider 0 []"

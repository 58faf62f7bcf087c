"""
Batches against the stand-in behind ``prism proxy --errors``: the requests and answers of each ending, the join
in input order and re-attach have the shapes of OpenAI's spec. The endings themselves (which batch completes,
fails or expires, and when) are the stand-in's scripted behaviour, not OpenAI's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from airflow_provider_openai_fusion.api import batches
from airflow_provider_openai_fusion.exceptions import JobFailedError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import OpenAIBatchOperator
from airflow_provider_openai_fusion.sensors import OpenAIBatchSensor
from tests.conftest import ROOT, AirflowHome, Stack, connection_json
from tests.unit.fine_tuning_fake import context
from tests.unit.responses_fake import StateStore

# The session's stand-in starts in the first test that needs it (up to 120 s).
pytestmark = [pytest.mark.contract, pytest.mark.timeout(300)]


@pytest.fixture
def hook(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIFusionHook]:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_DEFAULT", connection_json(stack.base_url, stack.api_key))
    instance = OpenAIFusionHook()
    yield instance
    instance.close()


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def run(tmp_path: Path, requests: Any, **kwargs: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    kwargs.setdefault("endpoint", "/v1/chat/completions")
    task = OpenAIBatchOperator(
        task_id="batch", requests=requests, output_path=tmp_path / "out.jsonl", poll_interval=0.05, **kwargs
    )
    result = task.execute(context())
    lines = [json.loads(line) for line in Path(result["path"]).read_text().splitlines()]
    return result, lines


def test_a_chat_batch_comes_back_in_input_order_with_per_request_errors(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    requests: list[Any] = [chat(f"question {n}") for n in range(12)]
    orphan_tool_answer = [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_1", "content": "4"}]
    requests[5] = {"custom_id": "orphan", "body": {"model": "gpt-4o-mini", "messages": orphan_tool_answer}}
    result, lines = run(tmp_path, requests, metadata={"team": "search"})
    ids = [line["custom_id"] for line in lines]
    assert ids == [f"request-{n}" if n != 5 else "orphan" for n in range(12)]
    assert lines[0]["response"]["status_code"] == 200 and lines[0]["error"] is None
    assert lines[0]["response"]["body"]["choices"][0]["message"]["content"].endswith("question 0")
    assert lines[5]["response"]["status_code"] == 400
    assert "tool" in lines[5]["response"]["body"]["error"]["message"]
    assert result["counts"] == {"total": 12, "succeeded": 11, "failed": 1, "expired": 0}
    assert result["usage"]["input_tokens"] > 0 and result["usage"]["total_tokens"] >= result["usage"]["input_tokens"]
    batch = hook.request(batches.retrieve_batch(result["batch_ids"][0]))
    assert batch["metadata"]["team"] == "search" and batch["metadata"]["airflow_batch_part"] == "1/1"


def test_splitting_past_the_limits_gives_several_batches_joined_in_order(
    hook: OpenAIFusionHook, tmp_path: Path
) -> None:
    class SmallBatches(OpenAIBatchOperator):
        max_requests_per_batch = 4

    task = SmallBatches(
        task_id="batch",
        endpoint="/v1/embeddings",
        requests=json.dumps(
            [{"model": "text-embedding-3-small", "input": f"text {n}", "dimensions": 8} for n in range(10)]
        ),
        output_path=tmp_path / "vectors.jsonl",
        poll_interval=0.05,
    )
    result = task.execute(context())
    lines = [json.loads(line) for line in Path(result["path"]).read_text().splitlines()]
    assert len(result["batch_ids"]) == 3
    assert [line["custom_id"] for line in lines] == [f"request-{n}" for n in range(10)]
    assert all(len(line["response"]["body"]["data"][0]["embedding"]) == 8 for line in lines)
    assert result["counts"] == {"total": 10, "succeeded": 10, "failed": 0, "expired": 0}


def test_a_responses_batch(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    requests = [{"model": "gpt-4o-mini", "input": f"Say {word}"} for word in ("one", "two", "three")]
    result, lines = run(tmp_path, requests, endpoint="/v1/responses")
    assert [line["custom_id"] for line in lines] == ["request-0", "request-1", "request-2"]
    assert all(line["response"]["body"]["object"] == "response" for line in lines)
    assert result["counts"]["succeeded"] == 3


def test_a_batch_failing_validation_fails_the_task_with_its_errors(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    with pytest.raises(JobFailedError) as info:
        run(tmp_path, [chat("a"), chat("b") | {"model": "gpt-nonexistent"}])
    assert info.value.status == "failed"
    assert "line 2" in str(info.value) and "model_not_found" in str(info.value)


def test_an_expired_batch_keeps_what_completed_with_partial(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    requests = [chat(f"q{n}") for n in range(8)]
    with pytest.raises(JobFailedError) as info:
        run(tmp_path, requests, metadata={"standin": "expire"})
    assert info.value.status == "expired"
    result, lines = run(tmp_path, requests, metadata={"standin": "expire"}, on_expired="partial")
    assert [line["custom_id"] for line in lines] == [f"request-{n}" for n in range(8)]
    assert [line["response"] is not None for line in lines] == [True] * 4 + [False] * 4
    assert all(line["error"]["code"] == "batch_expired" for line in lines[4:])
    assert result["counts"] == {"total": 8, "succeeded": 4, "failed": 0, "expired": 4}


def test_cancel_and_the_sensor(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    result = OpenAIBatchOperator(
        task_id="submit",
        endpoint="/v1/moderations",
        requests=[{"input": "hello"}, {"input": "world"}, {"input": "again"}],
        wait_for_completion=False,
        metadata={"standin": "hold"},
    ).execute(context())
    (batch_id,) = result["batch_ids"]
    assert result == {"batch_ids": [batch_id]}
    sensor = OpenAIBatchSensor(task_id="wait", batch_id=batch_id, poke_interval=0.05, timeout=5)
    assert sensor.poke(context()) is False
    assert hook.request(batches.cancel_batch(batch_id))["status"] == "cancelling"
    skip = OpenAIBatchSensor(task_id="wait", batch_id=batch_id, poke_interval=0.05, timeout=5, on_cancelled="skip")
    with pytest.raises(AirflowSkipException):
        skip.execute(context())
    with pytest.raises(JobFailedError, match="cancelled"):
        sensor.execute(context())


@pytest.mark.parametrize("store", [StateStore, None], ids=["task state store", "metadata (Airflow 3.2)"])
def test_a_retry_re_attaches_instead_of_submitting_again(hook: OpenAIFusionHook, tmp_path: Path, store: Any) -> None:
    requests = [chat(f"retry {n} {tmp_path.name}") for n in range(3)]
    started, shared = datetime.now(timezone.utc) - timedelta(seconds=5), store() if store else None
    first = OpenAIBatchOperator(
        task_id="batch", endpoint="/v1/chat/completions", requests=requests, wait_for_completion=False
    ).execute(context(store=shared, run_start=started))
    retried = OpenAIBatchOperator(
        task_id="batch",
        endpoint="/v1/chat/completions",
        requests=requests,
        output_path=tmp_path / "out.jsonl",
        poll_interval=0.05,
    ).execute(context(try_number=2, store=shared, run_start=started))
    assert retried["batch_ids"] == first["batch_ids"]
    assert retried["counts"]["succeeded"] == 3


@pytest.mark.airflow
@pytest.mark.timeout(1200)  # airflow_home (up to 120 s) + run_dag (up to 600 s), with slack
def test_the_nightly_classification_example_dag_runs_green(airflow_home: AirflowHome, stack: Stack) -> None:
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    dag_file = ROOT / "example_dags" / "batch_nightly_classification.py"
    tasks = airflow_home.run_dag(dag_file, "openai_fusion_batch_nightly_classification", env)
    output = airflow_home.last.stdout + airflow_home.last.stderr
    assert {label: r.state for label, r in tasks.items()} == dict.fromkeys(tasks, "success"), output[-4000:]
    manifest = tasks["classify"].xcom
    assert manifest["path"].startswith("file://") and manifest["path"].endswith("/classified.jsonl")
    assert manifest["counts"] == {"total": 5, "succeeded": 5, "failed": 0, "expired": 0}
    results = tasks["read_results"].xcom
    assert list(results["answers"]) == [f"ticket-{n}" for n in range(101, 106)]
    assert results["failed"] == [] and results["usage"]["input_tokens"] > 0

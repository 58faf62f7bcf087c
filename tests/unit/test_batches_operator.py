"""OpenAIBatchOperator: argument checks, submit, wait (poking and deferred), join, failures, re-attach, kill."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import ANY

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError, JobFailedError
from airflow_provider_openai_fusion.operators import OpenAIBatchOperator
from airflow_provider_openai_fusion.operators._batch_record import STATE_KEY as BATCH_STATE_KEY
from airflow_provider_openai_fusion.sensors import OpenAIBatchSensor
from airflow_provider_openai_fusion.triggers import OpenAIBatchTrigger
from tests.unit.batches_fake import FakeBatchAPI
from tests.unit.fine_tuning_fake import RUN_START, context
from tests.unit.responses_fake import StateStore

CHAT = "/v1/chat/completions"


def chat(text: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


def operator(make_hook: Any, api: FakeBatchAPI, tmp_path: Path, **kwargs: Any) -> OpenAIBatchOperator:
    kwargs.setdefault("endpoint", CHAT)
    kwargs.setdefault("output_path", str(tmp_path / "results.jsonl"))
    kwargs.setdefault("poll_interval", 0.001)
    task = OpenAIBatchOperator(task_id="create", **kwargs)
    task.hook = make_hook(api)
    return task


def read(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@pytest.mark.parametrize(
    ("kwargs", "argument", "reason"),
    [
        ({"endpoint": "/v1/edits", "requests": [chat("a")]}, "endpoint", "must be one of"),
        ({}, "requests", "exactly one"),
        ({"requests": [chat("a")], "input_path": "x.jsonl"}, "requests", "exactly one"),
        ({"requests": [chat("a")], "output_path": None}, "output_path", "required"),
        ({"requests": [chat("a")], "on_expired": "keep"}, "on_expired", "must be one of"),
        ({"requests": [chat("a")], "poll_interval": 0}, "poll_interval", "positive"),
        ({"requests": [chat("a")], "completion_window": "1h"}, "completion_window", "24h"),
        ({"requests": [chat("a")], "metadata": {"airflow_run_id": "x"}}, "metadata", "sets 'airflow_run_id'"),
        ({"requests": [chat("a")], "metadata": {f"k{n}": "v" for n in range(11)}}, "metadata", "at most 16"),
        ({"requests": [chat("a")], "metadata": {"n": 1}}, "metadata", "must be text"),
        ({"requests": []}, "requests", "non-empty list"),
        ({"requests": "[not json"}, "requests", "not valid JSON"),
        ({"requests": [chat("a"), {"model": "gpt-4o-mini"}]}, "requests", "requests[1] (request-1): body.messages"),
        (
            {"requests": [chat("a"), chat("b") | {"temperature": 3}]},
            "requests",
            "requests[1] (request-1): body.temperature",
        ),
        ({"requests": [chat("a") | {"stream": True}]}, "requests", "body.stream"),
        ({"requests": [chat("a") | {"tempreature": 1}]}, "requests", "body.tempreature: not a field"),
        (
            {"requests": [{"custom_id": "x", "body": chat("a")}, {"custom_id": "x", "body": chat("b")}]},
            "requests",
            "requests[1]: custom_id 'x' is used twice",
        ),
        ({"requests": [chat("a"), {"custom_id": "request-0", "body": chat("b")}]}, "requests", "used twice"),
        ({"requests": [{"custom_id": 7, "body": chat("a")}]}, "requests", "custom_id must be text"),
        ({"requests": ["just text"]}, "requests", "expected a request body"),
        (
            {"endpoint": "/v1/embeddings", "requests": [{"model": "m", "input": ["x"] * 2049}]},
            "requests",
            "at most 2048",
        ),
        ({"endpoint": "/v1/embeddings", "requests": [{"model": "m", "input": " "}]}, "requests", "body.input"),
        ({"endpoint": "/v1/responses", "requests": [{"input": "hi"}]}, "requests", "body.model"),
        ({"endpoint": "/v1/responses", "requests": [{"model": "m", "input": []}]}, "requests", "body.input"),
    ],
)
def test_bad_input_fails_before_any_request_naming_the_argument(
    make_hook: Any, tmp_path: Path, kwargs: dict[str, Any], argument: str, reason: str
) -> None:
    api = FakeBatchAPI()
    with pytest.raises(InvalidArgumentError) as info:
        operator(make_hook, api, tmp_path, **kwargs).execute(context())
    assert info.value.argument == argument
    assert reason in str(info.value)
    assert api.requests == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "line 2 is not valid JSON"),
        (json.dumps({"custom_id": "b", "method": "GET", "url": CHAT, "body": chat("b")}), "method must be 'POST'"),
        (json.dumps({"custom_id": "b", "method": "POST", "url": "/v1/embeddings", "body": chat("b")}), "not the batch"),
        (json.dumps({"custom_id": "b", "body": chat("b"), "extra": 1}), "'extra' is not a field"),
        (json.dumps({"custom_id": "b", "body": {"model": "gpt-4o-mini"}}), "line 2 (b): body.messages"),
    ],
)
def test_bad_lines_of_an_input_file_name_the_line(make_hook: Any, tmp_path: Path, line: str, reason: str) -> None:
    source = tmp_path / "in.jsonl"
    first = json.dumps({"custom_id": "a", "method": "POST", "url": CHAT, "body": chat("a")})
    source.write_text(f"{first}\n{line}\n")
    api = FakeBatchAPI()
    with pytest.raises(InvalidArgumentError) as info:
        operator(make_hook, api, tmp_path, input_path=str(source)).execute(context())
    assert info.value.argument == "input_path" and reason in str(info.value)
    assert api.requests == []


def test_waits_and_joins_results_in_input_order(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI(fail_ids={"request-3"})
    requests = [chat(f"q{n}") for n in range(8)]
    requests[5] = {"custom_id": "mine", "body": chat("q5")}
    task = operator(make_hook, api, tmp_path, requests=json.dumps(requests), metadata='{"team": "ml"}')
    result = task.execute(context())
    lines = read(result["path"])
    assert [line["custom_id"] for line in lines] == [f"request-{n}" if n != 5 else "mine" for n in range(8)]
    response = {"status_code": 200, "request_id": "req_request-0", "body": {"echo": chat("q0")}}
    assert lines[0] == {"id": "batch_req_request-0", "custom_id": "request-0", "response": response, "error": None}
    assert lines[3]["response"] == {"status_code": 400, "request_id": "req_request-3", "body": {"error": api_error()}}
    assert lines[3]["error"] is None
    assert result == {
        "batch_ids": ["batch_1"],
        "path": str(tmp_path / "results.jsonl"),
        "counts": {"total": 8, "succeeded": 7, "failed": 1, "expired": 0},
        "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
    }
    (create,) = api.calls("POST", "/batches")
    body = json.loads(create.content)
    assert body["endpoint"] == CHAT and body["completion_window"] == "24h"
    assert body["metadata"]["team"] == "ml" and body["metadata"]["airflow_task_id"] == "create"
    assert body["metadata"]["airflow_batch_part"] == "1/1" and len(body["metadata"]["airflow_batch_digest"]) == 16
    (upload,) = api.calls("POST", "/files")
    assert b'name="purpose"\r\n\r\nbatch' in upload.content


def api_error() -> dict[str, Any]:
    return {"message": "bad", "type": "invalid_request_error", "param": None, "code": "bad"}


def test_inputs_past_the_limits_are_split_and_joined_back_in_order(make_hook: Any, tmp_path: Path) -> None:
    class Small(OpenAIBatchOperator):
        max_requests_per_batch = 3

    api = FakeBatchAPI()
    task = Small(task_id="create", endpoint=CHAT, requests=[chat(f"q{n}") for n in range(7)], poll_interval=0.001)
    task.output_path = str(tmp_path / "out.jsonl")
    task.hook = make_hook(api)
    result = task.execute(context())
    assert result["batch_ids"] == ["batch_1", "batch_2", "batch_3"]
    assert [line["custom_id"] for line in read(result["path"])] == [f"request-{n}" for n in range(7)]
    parts = [json.loads(r.content)["metadata"]["airflow_batch_part"] for r in api.calls("POST", "/batches")]
    assert parts == ["1/3", "2/3", "3/3"]
    assert result["usage"] == {"input_tokens": 9, "output_tokens": 6, "total_tokens": 15}


def test_responses_bodies_may_carry_function_tools(make_hook: Any, tmp_path: Path) -> None:
    tool = {"type": "function", "name": "label", "parameters": {"type": "object", "properties": {}}}
    body = {"model": "gpt-4o-mini", "input": "classify this", "tools": [tool]}
    task = operator(make_hook, FakeBatchAPI(), tmp_path, endpoint="/v1/responses", requests=[body])
    assert task.execute(context())["counts"]["succeeded"] == 1


def test_not_waiting_returns_the_batch_ids(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI()
    task = operator(make_hook, api, tmp_path, requests=[chat("a")], wait_for_completion=False, output_path=None)
    assert task.execute(context()) == {"batch_ids": ["batch_1"]}
    assert len(api.calls("GET", "/batches/batch_1")) == 0


def test_a_failed_batch_fails_with_its_validation_errors(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI(ending=("failed",))
    with pytest.raises(JobFailedError) as info:
        operator(make_hook, api, tmp_path, requests=[chat("a")]).execute(context())
    assert info.value.status == "failed"
    assert "line 2: No such model. (model_not_found, param body.model)" in str(info.value)
    assert not (tmp_path / "results.jsonl").exists()


def test_an_expired_batch_fails_or_keeps_what_completed(make_hook: Any, tmp_path: Path) -> None:
    requests = [chat(f"q{n}") for n in range(4)]
    with pytest.raises(JobFailedError, match="expired"):
        operator(make_hook, FakeBatchAPI(ending=("in_progress", "expired")), tmp_path, requests=requests).execute(
            context()
        )
    api = FakeBatchAPI(ending=("in_progress", "expired"))
    result = operator(make_hook, api, tmp_path, requests=requests, on_expired="partial").execute(context())
    lines = read(result["path"])
    assert [(line["response"] or {}).get("status_code") for line in lines] == [200, 200, None, None]
    assert lines[2] == {
        "id": None,
        "custom_id": "request-2",
        "response": None,
        "error": {"code": "batch_expired", "message": "the batch expired (no result line)"},
    }
    assert result["counts"] == {"total": 4, "succeeded": 2, "failed": 0, "expired": 2}


def test_a_cancelled_batch_fails_the_task(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI(ending=("in_progress", "cancelling", "cancelled"))
    with pytest.raises(JobFailedError, match="was cancelled"):
        operator(make_hook, api, tmp_path, requests=[chat("a")]).execute(context())


def test_deferrable_defers_with_every_batch_id_and_joins_on_resume(make_hook: Any, tmp_path: Path) -> None:
    class Small(OpenAIBatchOperator):
        max_requests_per_batch = 2

    api = FakeBatchAPI()
    task = Small(task_id="create", endpoint=CHAT, requests=[chat(f"q{n}") for n in range(3)], deferrable=True)
    task.output_path, task.timeout = str(tmp_path / "out.jsonl"), 60
    task.hook = make_hook(api)
    with pytest.raises(TaskDeferred) as info:
        task.execute(context())
    trigger = info.value.trigger
    assert isinstance(trigger, OpenAIBatchTrigger) and trigger.batch_ids == ["batch_1", "batch_2"]
    assert trigger.cancel_on_kill and trigger.deadline is not None
    path, kwargs = trigger.serialize()
    assert path.endswith("triggers.batches.OpenAIBatchTrigger") and kwargs["batch_ids"] == ["batch_1", "batch_2"]
    trigger = OpenAIBatchTrigger(**{**kwargs, "poll_interval": 0.001})
    trigger.hook = make_hook(api)
    events = asyncio.run(collect(trigger))
    assert [event.payload["status"] for event in events] == ["all_done"]
    resumed = Small(task_id="create", endpoint=CHAT, requests=[chat(f"q{n}") for n in range(3)], deferrable=True)
    resumed.output_path = str(tmp_path / "out.jsonl")
    resumed.hook = make_hook(api)
    result = resumed.execute_complete(context(), events[0].payload)
    assert result["batch_ids"] == ["batch_1", "batch_2"]
    assert [line["custom_id"] for line in read(result["path"])] == ["request-0", "request-1", "request-2"]
    assert len(api.calls("POST", "/batches")) == 2


async def collect(trigger: OpenAIBatchTrigger) -> list[Any]:
    return [event async for event in trigger.run()]


def test_trigger_timeout_and_error_events_fail_the_resumed_task(make_hook: Any, tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowSensorTimeout

    task = operator(make_hook, FakeBatchAPI(), tmp_path, requests=[chat("a")])
    with pytest.raises(AirflowSensorTimeout):
        task.execute_complete(context(), {"status": "timeout", "job_id": "batch_1", "message": "late"})
    with pytest.raises(Exception, match="Unexpected event"):
        task.execute_complete(context(), {"status": "all_done", "batches": []})


def test_a_retry_re_attaches_to_the_batches_of_an_earlier_try(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI()
    requests = [chat(f"q{n}") for n in range(3)]
    first = operator(make_hook, api, tmp_path, requests=requests, wait_for_completion=False, output_path=None)
    first.execute(context())
    for _ in range(3):  # newer batches of other tasks: the listing pages past them
        api.add_batch({"airflow_task_id": "other"}, "file-x", status="completed")
    retry_context = context(try_number=2)
    retry_context["dag_run"] = SimpleNamespace(start_date=datetime.fromtimestamp(api.created_at, timezone.utc))
    result = operator(make_hook, api, tmp_path, requests=requests).execute(retry_context)
    assert result["batch_ids"] == ["batch_1"]
    assert len(api.calls("POST", "/batches")) == 1 and len(api.calls("POST", "/files")) == 1
    assert result["counts"]["succeeded"] == 3


def test_a_retry_with_changed_input_or_a_failed_earlier_batch_submits_anew(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI()
    operator(make_hook, api, tmp_path, requests=[chat("a")], wait_for_completion=False, output_path=None).execute(
        context()
    )
    changed = operator(make_hook, api, tmp_path, requests=[chat("b")], wait_for_completion=False, output_path=None)
    assert changed.execute(context(try_number=2)) == {"batch_ids": ["batch_2"]}
    api.batches["batch_2"]["status"] = "failed"
    again = operator(make_hook, api, tmp_path, requests=[chat("b")], wait_for_completion=False, output_path=None)
    assert again.execute(context(try_number=3)) == {"batch_ids": ["batch_3"]}


def test_the_listing_stops_at_the_dag_runs_start(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI(created_at=1_000)
    for _ in range(6):
        api.add_batch({"airflow_task_id": "old"}, "file-x", status="completed")
    api.created_at = 2_000_000_000
    retry_context = context(try_number=2)
    retry_context["dag_run"] = SimpleNamespace(start_date=datetime.fromtimestamp(1_999_999_000, timezone.utc))
    task = operator(make_hook, api, tmp_path, requests=[chat("a")], wait_for_completion=False, output_path=None)
    assert task.execute(retry_context) == {"batch_ids": ["batch_7"]}
    assert len(api.calls("GET", "/batches")) == 1


def test_killing_the_task_cancels_the_batches_still_running(make_hook: Any, tmp_path: Path) -> None:
    class Small(OpenAIBatchOperator):
        max_requests_per_batch = 1

    api = FakeBatchAPI(ending=("in_progress",))
    task = Small(task_id="create", endpoint=CHAT, requests=[chat("a"), chat("b")], timeout=0.05, poll_interval=0.01)
    task.output_path = str(tmp_path / "out.jsonl")
    task.hook = make_hook(api)
    with pytest.raises(
        AirflowSensorTimeout, match="batch batch_1 not finished at the deadline, last seen 'in_progress'"
    ):
        task.execute(context())
    cancels = ["/v1/batches/batch_1/cancel", "/v1/batches/batch_2/cancel"]
    assert [r.url.path for r in api.calls("POST", "/cancel")] == cancels, "the deadline cancels both"
    api.batches["batch_1"]["status"] = "in_progress"
    api.batches["batch_2"]["status"] = "completed"
    task.on_kill()
    assert [r.url.path for r in api.calls("POST", "/cancel")] == [*cancels, "/v1/batches/batch_1/cancel"]


def test_without_cancel_on_kill_the_deadline_cancels_nothing(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI(ending=("in_progress",))
    task = OpenAIBatchOperator(
        task_id="create", endpoint=CHAT, requests=[chat("a")], timeout=0.05, poll_interval=0.01, cancel_on_kill=False
    )
    task.output_path = str(tmp_path / "out.jsonl")
    task.hook = make_hook(api)
    with pytest.raises(AirflowSensorTimeout, match="last seen 'in_progress'"):
        task.execute(context())
    assert api.calls("POST", "/cancel") == []


def test_the_sensor_takes_a_batch_id_and_returns_the_batch(make_hook: Any) -> None:
    api = FakeBatchAPI(files={"file-x": b""})
    api.add_batch(None, "file-x", status="finalizing")
    sensor = OpenAIBatchSensor(task_id="wait", batch_id="batch_1", poke_interval=0.001, timeout=5)
    sensor.hook = make_hook(api)
    assert sensor.template_fields == ("batch_id", "conn_id")
    assert sensor.execute(context())["status"] == "completed"
    with pytest.raises(InvalidArgumentError) as info:
        OpenAIBatchSensor(task_id="wait", batch_id=" ").execute(context())
    assert info.value.argument == "batch_id"
    api.add_batch(None, "file-x", status="cancelling")
    skip = OpenAIBatchSensor(task_id="wait", batch_id="batch_2", poke_interval=0.001, timeout=5, on_cancelled="skip")
    skip.hook = make_hook(api)
    with pytest.raises(AirflowSkipException):
        skip.execute(context())


def not_waiting(make_hook: Any, api: Any, tmp_path: Path, **kwargs: Any) -> OpenAIBatchOperator:
    return operator(make_hook, api, tmp_path, wait_for_completion=False, output_path=None, **kwargs)


def test_with_a_task_state_store_a_retry_re_attaches_to_the_recorded_batch_without_listing(
    make_hook: Any, tmp_path: Path
) -> None:
    api, store = FakeBatchAPI(), StateStore()
    requests = [chat(f"q{n}") for n in range(3)]
    not_waiting(make_hook, api, tmp_path, requests=requests).execute(context(1, store=store))
    assert store.values[BATCH_STATE_KEY]["parts"]["1/1"]["batch_id"] == "batch_1"
    result = operator(make_hook, api, tmp_path, requests=requests).execute(context(2, store=store))
    assert result["batch_ids"] == ["batch_1"] and result["counts"]["succeeded"] == 3
    assert len(api.calls("POST", "/batches")) == len(api.calls("POST", "/files")) == 1
    assert [r.url.path for r in api.calls("GET", "/batches")] == []


def test_with_a_task_state_store_a_planted_batch_with_matching_metadata_and_digest_is_never_adopted(
    make_hook: Any, tmp_path: Path
) -> None:
    api = FakeBatchAPI()
    requests = [chat("a")]
    not_waiting(make_hook, api, tmp_path, requests=requests).execute(context(1))
    planted = api.batches["batch_1"]  # an attacker's batch: the same metadata, the same computable digest
    store = StateStore()
    result = not_waiting(make_hook, api, tmp_path, requests=requests).execute(context(2, store=store))
    assert result == {"batch_ids": ["batch_2"]} and planted["id"] == "batch_1"
    assert api.calls("GET", "/batches") == []


def test_a_retry_reuses_the_input_uploaded_by_a_try_whose_batch_was_never_created(
    make_hook: Any, tmp_path: Path
) -> None:
    api, store = FakeBatchAPI(), StateStore()
    refused: list[int] = []

    def flaky(request: Any) -> Any:
        import httpx

        if request.method == "POST" and request.url.path.endswith("/batches") and not refused:
            refused.append(1)
            return httpx.Response(503, json={"error": {"message": "busy", "type": "server_error"}})
        return api(request)

    task = OpenAIBatchOperator(task_id="create", endpoint=CHAT, requests=[chat("a")], wait_for_completion=False)
    task.hook = make_hook(flaky)
    with pytest.raises(Exception, match="busy"):
        task.execute(context(1, store=store))
    assert store.values[BATCH_STATE_KEY]["parts"]["1/1"] == {"digest": ANY, "file_id": "file-in-1"}
    assert task.execute(context(2, store=store)) == {"batch_ids": ["batch_1"]}
    assert len(api.calls("POST", "/files")) == 1 and api.batches["batch_1"]["input_file_id"] == "file-in-1"


def test_without_a_task_state_store_a_matching_batch_created_before_the_run_started_is_not_adopted(
    make_hook: Any, tmp_path: Path
) -> None:
    api = FakeBatchAPI()
    not_waiting(make_hook, api, tmp_path, requests=[chat("a")]).execute(context(1))
    api.batches["batch_1"]["created_at"] = int(RUN_START.timestamp()) - 1
    assert not_waiting(make_hook, api, tmp_path, requests=[chat("a")]).execute(context(2)) == {"batch_ids": ["batch_2"]}
    unknown_start = not_waiting(make_hook, api, tmp_path, requests=[chat("a")])
    assert unknown_start.execute(context(3, run_start=None)) == {"batch_ids": ["batch_3"]}


@pytest.mark.parametrize("store", [StateStore, None], ids=["task state store", "metadata (Airflow 3.2)"])
def test_two_tries_on_one_instance_list_each_batch_once(make_hook: Any, tmp_path: Path, store: Any) -> None:
    api = FakeBatchAPI()
    shared = store() if store else None
    task = not_waiting(make_hook, api, tmp_path, requests=[chat("a"), chat("b")])
    assert task.execute(context(1, store=shared)) == {"batch_ids": ["batch_1"]}
    assert task.execute(context(2, store=shared)) == {"batch_ids": ["batch_1"]}
    assert len(api.calls("POST", "/batches")) == 1

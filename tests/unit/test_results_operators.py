"""Results-only operators: a batch's results joined from its id alone, a background response fetched by id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError, JobFailedError
from airflow_provider_openai_fusion.operators import (
    OpenAIBatchOperator,
    OpenAIBatchResultsOperator,
    OpenAIResponseOperator,
    OpenAIResponseResultOperator,
)
from tests.unit.batches_fake import FakeBatchAPI
from tests.unit.fine_tuning_fake import context
from tests.unit.responses_fake import FakeResponsesAPI, StateStore, message
from tests.unit.responses_fake import context as response_context

CHAT = "/v1/chat/completions"


def chat(text: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


def submit(make_hook: Any, api: FakeBatchAPI, requests: list[dict[str, Any]]) -> list[str]:
    task = OpenAIBatchOperator(task_id="submit", endpoint=CHAT, requests=requests, wait_for_completion=False)
    task.hook = make_hook(api)
    return task.execute(context())["batch_ids"]


def finish(api: FakeBatchAPI, batch_id: str, status: str = "completed") -> None:
    batch = api.batches[batch_id]
    batch["status"] = status
    api._finish(batch)


def results(make_hook: Any, api: FakeBatchAPI, path: Path, **kwargs: Any) -> dict[str, Any]:
    task = OpenAIBatchResultsOperator(task_id="results", output_path=str(path), **kwargs)
    task.hook = make_hook(api)
    return task.execute(context())


def test_results_from_the_batch_id_alone_equal_what_the_waiting_operator_writes(make_hook: Any, tmp_path: Path) -> None:
    requests = [chat(f"question {n}") for n in range(40)]
    failing = {"request-3", "request-17"}
    waited = FakeBatchAPI(fail_ids=failing)
    task = OpenAIBatchOperator(
        task_id="wait",
        endpoint=CHAT,
        requests=requests,
        output_path=str(tmp_path / "waited.jsonl"),
        poll_interval=0.001,
    )
    task.hook = make_hook(waited)
    expected = task.execute(context())

    api = FakeBatchAPI(fail_ids=failing)
    (batch_id,) = submit(make_hook, api, requests)
    finish(api, batch_id)
    got = results(make_hook, api, tmp_path / "joined.jsonl", batch_id=batch_id)

    assert (tmp_path / "joined.jsonl").read_bytes() == (tmp_path / "waited.jsonl").read_bytes()
    lines = [json.loads(line) for line in (tmp_path / "joined.jsonl").read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"request-{n}" for n in range(40)]
    assert got["counts"] == expected["counts"] == {"total": 40, "succeeded": 38, "failed": 2, "expired": 0}
    assert got["usage"] == expected["usage"] and got["batch_ids"] == [batch_id]
    assert not api.calls("POST", "/cancel")


def test_several_batches_are_joined_in_the_order_given_including_an_xcom(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI()
    first = submit(make_hook, api, [chat("a1"), chat("a2")])
    second = submit(make_hook, api, [chat("b1")])
    for batch_id in first + second:
        finish(api, batch_id)
    got = results(make_hook, api, tmp_path / "out.jsonl", batch_id=json.dumps({"batch_ids": second + first}))
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    bodies = [line["response"]["body"]["echo"]["messages"][0]["content"] for line in lines]
    assert bodies == ["b1", "a1", "a2"]
    assert got["counts"]["total"] == 3


def test_a_batch_that_has_not_ended_fails_naming_batch_id_and_writes_nothing(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI()
    (batch_id,) = submit(make_hook, api, [chat("a")])
    with pytest.raises(InvalidArgumentError, match=r"'batch_id'.*not finished"):
        results(make_hook, api, tmp_path / "out.jsonl", batch_id=batch_id)
    assert not (tmp_path / "out.jsonl").exists()


def test_failed_expired_and_partial_batches(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI()
    (failed,) = submit(make_hook, api, [chat("a")])
    api.batches[failed]["status"] = "failed"
    with pytest.raises(JobFailedError, match="failed"):
        results(make_hook, api, tmp_path / "out.jsonl", batch_id=failed)
    (expired,) = submit(make_hook, api, [chat(f"q{n}") for n in range(4)])
    finish(api, expired, "expired")
    with pytest.raises(JobFailedError, match="expired"):
        results(make_hook, api, tmp_path / "out.jsonl", batch_id=expired)
    got = results(make_hook, api, tmp_path / "out.jsonl", batch_id=expired, on_expired="partial")
    assert got["counts"] == {"total": 4, "succeeded": 2, "failed": 0, "expired": 2}


def test_require_metadata_skips_batches_that_are_not_ours(make_hook: Any, tmp_path: Path) -> None:
    api = FakeBatchAPI()
    (ours,) = submit(make_hook, api, [chat("a")])
    finish(api, ours)
    theirs = api.add_batch({"team": "other"}, api.batches[ours]["input_file_id"])
    finish(api, theirs["id"])
    with pytest.raises(AirflowSkipException, match="not ours"):
        results(
            make_hook, api, tmp_path / "out.jsonl", batch_id=theirs["id"], require_metadata={"airflow_dag_id": "ft_dag"}
        )
    got = results(
        make_hook, api, tmp_path / "out.jsonl", batch_id=ours, require_metadata='{"airflow_dag_id": "ft_dag"}'
    )
    assert got["counts"]["succeeded"] == 1
    assert len(api.calls("GET", "/content")) == 2  # the skipped batch downloaded nothing


@pytest.mark.parametrize("bad", ["", [], ["batch_1", "batch_1"], "[not json", 7, [None]])
def test_bad_batch_ids_fail_before_any_request(make_hook: Any, tmp_path: Path, bad: Any) -> None:
    api = FakeBatchAPI()
    with pytest.raises(InvalidArgumentError, match="'batch_id'"):
        results(make_hook, api, tmp_path / "out.jsonl", batch_id=bad)
    assert api.requests == []


SCHEMA = {
    "name": "answer",
    "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def fetch(make_hook: Any, api: FakeResponsesAPI, **kwargs: Any) -> dict[str, Any]:
    task = OpenAIResponseResultOperator(task_id="fetch", response_id="resp_1", **kwargs)
    task.hook = make_hook(api)
    return task.execute(response_context(StateStore()))


def test_a_finished_response_is_fetched_and_parsed_with_text_format(make_hook: Any) -> None:
    api = FakeResponsesAPI(("completed",), output=[message('{"city": "Lyon"}')])
    got = fetch(make_hook, api, text_format=SCHEMA)
    assert got["output_text"] == '{"city": "Lyon"}'
    assert got["output_parsed"] == {"city": "Lyon"}
    assert [r.method for r in api.requests] == ["GET"]


def test_a_response_still_running_or_failed_fails_the_task(make_hook: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"'response_id'.*not finished"):
        fetch(make_hook, FakeResponsesAPI(("in_progress",)))
    with pytest.raises(JobFailedError):
        fetch(make_hook, FakeResponsesAPI(("failed",), error={"code": "server_error", "message": "boom"}))
    with pytest.raises(JobFailedError, match="allow_incomplete"):
        fetch(make_hook, FakeResponsesAPI(("incomplete",), incomplete_details={"reason": "max_output_tokens"}))
    kept = fetch(make_hook, FakeResponsesAPI(("incomplete",), output=[message("hal")]), allow_incomplete=True)
    assert kept["output_text"] == "hal"


def test_a_background_response_can_be_submitted_without_waiting(make_hook: Any) -> None:
    api = FakeResponsesAPI(("queued", "completed"))
    task = OpenAIResponseOperator(
        task_id="submit", model="gpt-4o-mini", input="hi", background=True, wait_for_completion=False
    )
    task.hook = make_hook(api)
    store = StateStore()
    got = task.execute(response_context(store))
    assert (got["id"], got["status"]) == ("resp_1", "queued")
    assert [r.method for r in api.requests] == ["POST"]
    assert store.values, "the response id was not kept for a retry"
    with pytest.raises(InvalidArgumentError, match="'wait_for_completion'"):
        OpenAIResponseOperator(task_id="x", model="m", input="hi", wait_for_completion=False).execute(
            response_context(StateStore())
        )

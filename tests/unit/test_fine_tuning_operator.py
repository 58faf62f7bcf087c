"""OpenAIManageFineTunesOperator: argument checks, each action, waiting, and no duplicate job on a retry."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_openai_fusion.exceptions import FineTuningJobError, InvalidArgumentError
from airflow_provider_openai_fusion.links import JOB_ID_XCOM_KEY, remember_job
from airflow_provider_openai_fusion.operators import OpenAIManageFineTunesOperator
from airflow_provider_openai_fusion.operators.fine_tuning import STATE_KEY
from airflow_provider_openai_fusion.triggers import OpenAIFineTuningJobTrigger
from airflow_provider_openai_fusion.wait_defaults import FINE_TUNING_JOB_TIMEOUT
from tests.unit.fine_tuning_fake import RUN_START, FakeFineTuningAPI, context
from tests.unit.responses_fake import StateStore

CREATE = {"action": "create", "model": "gpt-4o-mini", "training_file": "file-1"}
TI_TAGS = {
    "airflow_dag_id": "ft_dag",
    "airflow_task_id": "create",
    "airflow_run_id": "manual__2026-01-01T00:00:00+00:00",
    "airflow_map_index": "-1",
}


def operator(make_hook: Any, handler: Any, **kwargs: Any) -> OpenAIManageFineTunesOperator:
    task = OpenAIManageFineTunesOperator(task_id="create", poll_interval=0.001, **kwargs)
    task.hook = make_hook(handler)
    return task


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"action": "train"}, "action"),
        ({"action": "get"}, "job_id"),
        ({"action": "cancel", "job_id": ""}, "job_id"),
        ({"action": "list_events"}, "job_id"),
        ({"action": "delete_model"}, "model"),
        ({"action": "create", "model": "gpt-4o-mini"}, "training_file"),
        ({"action": "create", "training_file": "file-1"}, "model"),
        ({"action": "get", "job_id": "ftjob-1", "training_file": "file-1"}, "training_file"),
        ({"action": "list", "job_id": "ftjob-1"}, "job_id"),
        ({"action": "get", "job_id": "ftjob-1", "wait_for_completion": True}, "wait_for_completion"),
        ({"action": "list", "limit": 0}, "limit"),
        ({"action": "list", "limit": True}, "limit"),
        ({**CREATE, "poll_interval": 0}, "poll_interval"),
        ({**CREATE, "suffix": "x" * 65}, "suffix"),
        ({**CREATE, "seed": -1}, "seed"),
        ({**CREATE, "method": {"type": "magic"}}, "method"),
        ({**CREATE, "method": "{not json"}, "method"),
        ({**CREATE, "advanced": {"n_epochs": 3}}, "advanced.n_epochs"),
        ({**CREATE, "advanced": {"model": "gpt-4.1-mini"}}, "advanced"),
        ({**CREATE, "advanced": {"metadata": {"airflow_run_id": "x"}}}, "advanced.metadata"),
        ({**CREATE, "advanced": {"metadata": {f"k{n}": "v" for n in range(13)}}}, "metadata"),
    ],
)
def test_bad_input_fails_before_any_request_naming_the_argument(
    make_hook: Any, kwargs: dict[str, Any], argument: str
) -> None:
    api = FakeFineTuningAPI()
    kwargs.setdefault("poll_interval", 0.001)
    task = OpenAIManageFineTunesOperator(task_id="create", **kwargs)
    task.hook = make_hook(api)
    with pytest.raises(InvalidArgumentError) as info:
        task.execute(context())
    assert info.value.argument == argument
    assert api.requests == []


def test_create_sends_the_body_tagged_with_the_task_instance_and_returns_the_job(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    advanced = {"metadata": {"team": "search"}, "hyperparameters": {"n_epochs": 2}}
    method = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}
    task = operator(make_hook, api, **CREATE, suffix="demo", seed=7, method=method, advanced=advanced)
    job = task.execute(context())
    assert job["id"] == "ftjob-1" and job["status"] == "validating_files"
    (post,) = api.posts
    assert json.loads(post.content) == {
        "model": "gpt-4o-mini",
        "training_file": "file-1",
        "suffix": "demo",
        "seed": 7,
        "method": method,
        "hyperparameters": {"n_epochs": 2},
        "metadata": {"team": "search", **TI_TAGS},
    }


def test_create_with_wait_returns_the_succeeded_job(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    job = operator(make_hook, api, **CREATE, wait_for_completion=True).execute(context())
    assert job["status"] == "succeeded" and job["fine_tuned_model"]


def test_create_with_wait_fails_with_the_jobs_error(make_hook: Any) -> None:
    error = {"code": "invalid_training_file", "message": "Invalid file format.", "param": "training_file"}
    api = FakeFineTuningAPI(statuses=("validating_files", "failed"), error=error)
    with pytest.raises(FineTuningJobError, match=r"Invalid file format\..*invalid_training_file.*training_file"):
        operator(make_hook, api, **CREATE, wait_for_completion=True).execute(context())


def test_create_with_deferrable_wait_checks_once_then_defers(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    task = operator(make_hook, api, **CREATE, wait_for_completion=True, deferrable=True)
    started = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, OpenAIFineTuningJobTrigger)
    assert (trigger.job_id, trigger.cancel_on_kill) == ("ftjob-1", True)
    assert started + FINE_TUNING_JOB_TIMEOUT <= trigger.deadline <= time.time() + FINE_TUNING_JOB_TIMEOUT, "48 h"
    assert trigger.cursor == "ev-ftjob-1-2"
    trigger.hook = make_hook(api)

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    assert task.execute_complete(context(), asyncio.run(first_event()))["status"] == "succeeded"


def test_a_retry_reattaches_to_the_job_of_the_earlier_try_so_one_job_is_created(make_hook: Any) -> None:
    api = FakeFineTuningAPI(faults_after_create=[403])
    with pytest.raises(AirflowFailException, match="fault 403"):
        operator(make_hook, api, **CREATE, wait_for_completion=True).execute(context(try_number=1))
    job = operator(make_hook, api, **CREATE, wait_for_completion=True).execute(context(try_number=2))
    assert job["id"] == "ftjob-1" and job["status"] == "succeeded"
    assert len(api.posts) == 1
    (listing,) = [r for r in api.requests if r.method == "GET" and r.url.path == "/v1/fine_tuning/jobs"]
    assert {k: v for k, v in parse_qsl(listing.url.query.decode()) if k.startswith("metadata[")} == {
        f"metadata[{k}]": v for k, v in TI_TAGS.items()
    }


def test_a_retry_creates_a_new_job_when_the_earlier_one_failed(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    api.add_job("ftjob-old", metadata=TI_TAGS)["status"] = "failed"
    job = operator(make_hook, api, **CREATE).execute(context(try_number=2))
    assert job["id"] != "ftjob-old" and len(api.posts) == 1


def test_a_first_try_never_looks_for_earlier_jobs(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    api.add_job("ftjob-other", metadata=TI_TAGS)
    operator(make_hook, api, **CREATE).execute(context(try_number=1))
    assert [r.method for r in api.requests] == ["POST"]


def test_get_cancel_and_list(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    api.add_job("ftjob-1")
    api.add_job("ftjob-2")
    assert operator(make_hook, api, action="get", job_id="ftjob-1").execute(context())["status"] == "queued"
    assert operator(make_hook, api, action="cancel", job_id="ftjob-2").execute(context())["status"] == "cancelled"
    jobs = operator(make_hook, api, action="list", limit=1).execute(context())
    assert [j["id"] for j in jobs] == ["ftjob-2"]


def test_list_events_returns_them_oldest_first_across_pages(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    api.add_job()
    for n in range(4):
        api._event("ftjob-1", f"e{n}")
    events = operator(make_hook, api, action="list_events", job_id="ftjob-1").execute(context())
    assert [e["message"] for e in events] == ["Status: validating_files", "e0", "e1", "e2", "e3"]
    newest = operator(make_hook, api, action="list_events", job_id="ftjob-1", limit=2).execute(context())
    assert [e["message"] for e in newest] == ["e2", "e3"]


def test_delete_model_sends_delete_models(make_hook: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "ft:gpt-4o-mini:org::abc", "object": "model", "deleted": True})

    deleted = operator(make_hook, handler, action="delete_model", model="ft:gpt-4o-mini:org::abc").execute(context())
    assert deleted["deleted"] is True
    assert (seen[0].method, seen[0].url.raw_path) == ("DELETE", b"/v1/models/ft%3Agpt-4o-mini%3Aorg%3A%3Aabc")


def test_on_kill_cancels_the_job_being_waited_for(make_hook: Any) -> None:
    api = FakeFineTuningAPI(statuses=("running",))
    task = operator(make_hook, api, **CREATE, wait_for_completion=True, deferrable=True)
    with pytest.raises(TaskDeferred):
        task.execute(context())
    task.on_kill()
    assert api.jobs["ftjob-1"]["status"] == "cancelled"
    idle = operator(make_hook, api, **CREATE, cancel_on_kill=False, wait_for_completion=True, deferrable=True)
    with pytest.raises(TaskDeferred):
        idle.execute(context())
    idle.on_kill()
    assert api.jobs["ftjob-2"]["status"] == "running"


def test_the_dashboard_link_is_kept_only_for_openais_api() -> None:
    ctx = context()
    remember_job(ctx, "http://127.0.0.1:4010", "ftjob-1")
    assert ctx["ti"].pushed == {JOB_ID_XCOM_KEY: ""}
    remember_job(ctx, "https://api.openai.com/v1", "ftjob-1")
    assert ctx["ti"].pushed == {JOB_ID_XCOM_KEY: "ftjob-1"}


def test_importing_the_operator_loads_no_model_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from airflow_provider_openai_fusion.operators import OpenAIManageFineTunesOperator;"
        "from airflow_provider_openai_fusion.sensors import OpenAIFineTuningJobSensor;"
        "print([m for m in sys.modules if m.startswith('airflow_provider_openai_fusion.models')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def listings(api: FakeFineTuningAPI) -> list[httpx.Request]:
    return [r for r in api.requests if r.method == "GET" and r.url.path == "/v1/fine_tuning/jobs"]


def test_with_a_task_state_store_a_retry_reattaches_to_the_recorded_job_without_listing(make_hook: Any) -> None:
    api, store = FakeFineTuningAPI(faults_after_create=[403]), StateStore()
    with pytest.raises(AirflowFailException, match="fault 403"):
        operator(make_hook, api, **CREATE, wait_for_completion=True).execute(context(1, store=store))
    assert store.values[STATE_KEY]["id"] == "ftjob-1"
    job = operator(make_hook, api, **CREATE, wait_for_completion=True).execute(context(2, store=store))
    assert job["id"] == "ftjob-1" and job["status"] == "succeeded"
    assert len(api.posts) == 1 and listings(api) == []


def test_with_a_task_state_store_a_planted_job_with_the_task_instances_metadata_is_never_adopted(
    make_hook: Any,
) -> None:
    api = FakeFineTuningAPI()
    api.add_job("ftjob-planted", metadata=TI_TAGS, status="succeeded", fine_tuned_model="ft:evil")
    job = operator(make_hook, api, **CREATE).execute(context(try_number=2, store=StateStore()))
    assert job["id"] != "ftjob-planted" and len(api.posts) == 1 and listings(api) == []


def test_a_recorded_job_of_another_request_is_not_reattached(make_hook: Any) -> None:
    api, store = FakeFineTuningAPI(), StateStore()
    operator(make_hook, api, **CREATE).execute(context(1, store=store))
    fixed = {**CREATE, "training_file": "file-fixed"}
    job = operator(make_hook, api, **fixed).execute(context(2, store=store))
    assert job["id"] == "ftjob-2" and job["training_file"] == "file-fixed" and len(api.posts) == 2
    assert store.values[STATE_KEY]["id"] == "ftjob-2"


@pytest.mark.parametrize(
    "planted",
    [
        {"training_file": "file-other"},
        {"model": "gpt-4.1-mini"},
        {"method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 9}}}},
        {"created_at": int(RUN_START.timestamp()) - 1},
    ],
    ids=["other training file", "other model", "other hyperparameters", "created before the run started"],
)
def test_without_a_task_state_store_a_job_with_matching_metadata_but_another_request_is_not_adopted(
    make_hook: Any, planted: dict[str, Any]
) -> None:
    api = FakeFineTuningAPI()
    method = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": "auto"}}}
    shown = {"method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": 8}}}}
    api.add_job("ftjob-planted", metadata=TI_TAGS, status="succeeded", **{**shown, **planted})
    job = operator(make_hook, api, **CREATE, method=method).execute(context(try_number=2))
    assert job["id"] != "ftjob-planted" and len(api.posts) == 1 and len(listings(api)) == 1


def test_without_a_task_state_store_the_same_request_since_the_run_started_is_reattached(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    shown = {"method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": 8}}}}
    api.add_job("ftjob-earlier", metadata=TI_TAGS, **shown)
    method = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": "auto"}}}
    job = operator(make_hook, api, **CREATE, method=method).execute(context(try_number=2))
    assert job["id"] == "ftjob-earlier" and api.posts == []
    assert operator(make_hook, api, **CREATE).execute(context(2, run_start=None))["id"] == "ftjob-2"


def test_two_tries_on_one_instance_follow_each_try_s_own_job(make_hook: Any) -> None:
    api, store = FakeFineTuningAPI(), StateStore()
    task = operator(make_hook, api, **CREATE, wait_for_completion=True, deferrable=True)
    with pytest.raises(TaskDeferred) as first:
        task.execute(context(1, store=store))
    api.jobs["ftjob-1"]["status"] = "failed"
    with pytest.raises(TaskDeferred) as second:
        task.execute(context(2, store=store))
    assert (first.value.trigger.job_id, second.value.trigger.job_id) == ("ftjob-1", "ftjob-2")
    task.on_kill()
    assert [r.url.path for r in api.requests if r.url.path.endswith("/cancel")] == [
        "/v1/fine_tuning/jobs/ftjob-2/cancel"
    ]

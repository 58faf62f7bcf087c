"""Waiting for a fine-tuning job: the sensor (poke and deferrable), the trigger, and what they share."""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import time
from typing import Any

import pytest
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_provider_openai_fusion._waiting import Watch, drive, resumed
from airflow_provider_openai_fusion._waiting import finish as finish_event
from airflow_provider_openai_fusion.api.fine_tuning import FINE_TUNING_JOBS, format_event
from airflow_provider_openai_fusion.exceptions import FineTuningJobError, InvalidArgumentError
from airflow_provider_openai_fusion.sensors import OpenAIFineTuningJobSensor
from airflow_provider_openai_fusion.triggers import OpenAIFineTuningJobTrigger
from tests.unit.fine_tuning_fake import FakeFineTuningAPI, context


def finish(event: Any, on_cancelled: str = "fail", request: Any = None) -> Any:
    """What the resumed task does with the event: read the job again (events carry ids), then check it."""
    return finish_event(FINE_TUNING_JOBS, resumed(FINE_TUNING_JOBS, event, request), on_cancelled)


FAILED_ERROR = {"code": "invalid_n_examples", "message": "Training file has 3 example(s)", "param": "training_file"}


def sensor(make_hook: Any, api: FakeFineTuningAPI, **kwargs: Any) -> OpenAIFineTuningJobSensor:
    task = OpenAIFineTuningJobSensor(task_id="wait", job_id="ftjob-1", poke_interval=0, timeout=5, **kwargs)
    task.hook = make_hook(api)
    return task


def trigger(make_hook: Any, api: FakeFineTuningAPI, **kwargs: Any) -> OpenAIFineTuningJobTrigger:
    kwargs = {"job_id": "ftjob-1", "conn_id": "openai_fusion_default", "poll_interval": 0.01, **kwargs}
    instance = OpenAIFineTuningJobTrigger(**kwargs)
    instance.hook = make_hook(api)
    return instance


async def events_of(instance: OpenAIFineTuningJobTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in instance.run()]


def logged(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> list[str]:
    """The job events written to the task log (structlog prints them; stdlib logging records them)."""
    text = capsys.readouterr().out + "\n".join(r.getMessage() for r in caplog.records)
    return re.findall(r"Fine-tuning job ftjob-1: \[\w+\] (.*?)(?: +\[airflow[^\n]*)?$", text, re.MULTILINE)


def test_sensor_waits_through_every_status_and_logs_each_event_once_oldest_first(
    make_hook: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    api = FakeFineTuningAPI()
    api.add_job()
    caplog.set_level(logging.INFO)
    job = sensor(make_hook, api).execute(context())
    assert job["status"] == "succeeded"
    assert job["fine_tuned_model"] == "ft:gpt-4o-mini:org:x:ftjob-1"
    assert logged(capsys, caplog) == [
        "Status: validating_files",
        "Status: queued",
        "Step 1/1: training loss=0.5 | step=1, train_loss=0.5",
        "Status: running",
        "Status: succeeded",
    ]


def test_sensor_fails_with_the_jobs_error_code_message_and_param(make_hook: Any) -> None:
    api = FakeFineTuningAPI(statuses=("validating_files", "failed"), error=FAILED_ERROR)
    api.add_job()
    with pytest.raises(FineTuningJobError, match="Training file has 3 example") as info:
        sensor(make_hook, api).execute(context())
    assert isinstance(info.value, AirflowFailException)
    assert (info.value.code, info.value.param) == ("invalid_n_examples", "training_file")
    assert "invalid_n_examples" in str(info.value) and "training_file" in str(info.value)


@pytest.mark.parametrize(("on_cancelled", "raised"), [("fail", FineTuningJobError), ("skip", AirflowSkipException)])
def test_sensor_on_a_cancelled_job_fails_or_skips(make_hook: Any, on_cancelled: str, raised: type) -> None:
    api = FakeFineTuningAPI(statuses=("queued", "cancelled"))
    api.add_job()
    with pytest.raises(raised, match="cancelled"):
        sensor(make_hook, api, on_cancelled=on_cancelled).execute(context())


def test_sensor_rides_out_transient_errors_between_pokes(make_hook: Any) -> None:
    api = FakeFineTuningAPI(faults=[503, 429, 500])
    api.add_job()
    job = sensor(make_hook, api).execute(context())
    assert job["status"] == "succeeded"
    assert [r.url.path for r in api.requests[:3]] == ["/v1/fine_tuning/jobs/ftjob-1"] * 3


def test_sensor_raises_at_once_on_an_error_that_is_not_transient(make_hook: Any) -> None:
    api = FakeFineTuningAPI(faults=[404])
    api.add_job()
    with pytest.raises(AirflowFailException, match="fault 404"):
        sensor(make_hook, api).execute(context())
    assert len(api.requests) == 1


def test_sensor_rejects_bad_arguments_before_any_request(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    with pytest.raises(InvalidArgumentError, match="on_cancelled"):
        sensor(make_hook, api, on_cancelled="ignore").execute(context())
    task = sensor(make_hook, api)
    task.job_id = " "
    with pytest.raises(InvalidArgumentError, match="job_id"):
        task.execute(context())
    assert api.requests == []


def test_deferrable_sensor_checks_once_defers_and_completes_with_the_trigger(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    api.add_job()
    task = sensor(make_hook, api, deferrable=True)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context())
    handed = deferred.value.trigger
    assert isinstance(handed, OpenAIFineTuningJobTrigger)
    assert handed.cursor == "ev-ftjob-1-2" and handed.cancel_on_kill is False
    assert before + 5 <= handed.deadline <= time.time() + 5
    handed.hook = make_hook(api)
    (event,) = asyncio.run(events_of(handed))
    assert task.execute_complete(context(), event)["status"] == "succeeded"


def test_trigger_polls_until_succeeded_and_yields_exactly_one_event(
    make_hook: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    api = FakeFineTuningAPI()
    api.add_job()
    caplog.set_level(logging.INFO)
    (event,) = asyncio.run(events_of(trigger(make_hook, api)))
    assert event == {"status": "succeeded", "job_id": "ftjob-1"}  # ids only: events are stored in the database
    assert finish(event, request=make_hook(api).request)["fine_tuned_model"]
    assert len(logged(capsys, caplog)) == 5


def test_trigger_reports_a_failed_job_with_its_error(make_hook: Any) -> None:
    api = FakeFineTuningAPI(statuses=("running", "failed"), error=FAILED_ERROR)
    api.add_job()
    (event,) = asyncio.run(events_of(trigger(make_hook, api)))
    assert event == {"status": "failed", "job_id": "ftjob-1"}
    with pytest.raises(FineTuningJobError, match="invalid_n_examples"):
        finish(event, request=make_hook(api).request)


def test_trigger_reports_a_cancelled_job(make_hook: Any) -> None:
    api = FakeFineTuningAPI(statuses=("queued", "cancelled"))
    api.add_job()
    (event,) = asyncio.run(events_of(trigger(make_hook, api)))
    assert event["status"] == "cancelled"
    with pytest.raises(AirflowSkipException):
        finish(event, "skip", make_hook(api).request)


def test_trigger_rides_out_transient_errors_with_backoff(make_hook: Any) -> None:
    api = FakeFineTuningAPI(faults=[503, 429, 502, 500])
    api.add_job()
    started = time.monotonic()
    (event,) = asyncio.run(events_of(trigger(make_hook, api)))
    assert event["status"] == "succeeded"
    assert time.monotonic() - started >= 0.01 + 0.02 + 0.04 + 0.08 - 0.05  # doubled waits, minus the jitter


def test_trigger_gives_up_after_too_many_transient_errors_as_a_retryable_error(make_hook: Any) -> None:
    api = FakeFineTuningAPI(faults=[503] * 20)
    api.add_job()
    (event,) = asyncio.run(events_of(trigger(make_hook, api, poll_interval=0.0001)))
    assert event["status"] == "error" and event["retryable"] is True
    with pytest.raises(AirflowException, match="fault 503") as info:
        finish(event)
    assert not isinstance(info.value, AirflowFailException)


def test_trigger_stops_at_once_on_an_error_that_is_not_transient(make_hook: Any) -> None:
    api = FakeFineTuningAPI(faults=[401])
    api.add_job()
    (event,) = asyncio.run(events_of(trigger(make_hook, api)))
    assert event["status"] == "error" and event["retryable"] is False
    with pytest.raises(AirflowFailException):
        finish(event)
    assert len(api.requests) == 1


def test_trigger_times_out_at_its_absolute_deadline(make_hook: Any) -> None:
    api = FakeFineTuningAPI(statuses=("running",))
    api.add_job()
    (event,) = asyncio.run(events_of(trigger(make_hook, api, deadline=time.time() + 0.05)))
    assert event["status"] == "timeout"
    with pytest.raises(AirflowSensorTimeout):
        finish(event)


def test_trigger_serializes_to_plain_values_and_round_trips() -> None:
    original = OpenAIFineTuningJobTrigger(
        job_id="ftjob-1",
        conn_id="c",
        poll_interval=5,
        deadline=1_900_000_000.5,
        cursor="ev-9",
        cancel_on_kill=True,
    )
    classpath, kwargs = original.serialize()
    module, _, name = classpath.rpartition(".")
    assert all(isinstance(v, str | int | float | bool) for v in kwargs.values())
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["deadline"] == 1_900_000_000.5 and kwargs["cursor"] == "ev-9"


def test_trigger_on_kill_cancels_the_job_only_when_asked(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    api.add_job()
    asyncio.run(trigger(make_hook, api).on_kill())
    assert api.requests == []
    asyncio.run(trigger(make_hook, api, cancel_on_kill=True).on_kill())
    assert api.jobs["ftjob-1"]["status"] == "cancelled"


def test_watch_pages_back_through_events_and_then_reports_only_new_ones(make_hook: Any) -> None:
    api = FakeFineTuningAPI(statuses=("validating_files", "queued", "running", "succeeded"))
    api.add_job()
    for n in range(5):
        api._event("ftjob-1", f"early {n}")
    hook = make_hook(api)
    watch = Watch(FINE_TUNING_JOBS, "ftjob-1", logging.getLogger("test"))
    _, first, cursor = drive(FINE_TUNING_JOBS.look("ftjob-1", None), hook.request)
    assert [text for _, text in first] == [
        "[info] Status: validating_files",
        *(f"[info] early {n}" for n in range(5)),
        "[info] Status: queued",
    ]
    _, second, cursor = drive(FINE_TUNING_JOBS.look("ftjob-1", cursor), hook.request)
    assert [text.split(" |")[0] for _, text in second] == [
        "[info] Step 1/1: training loss=0.5",
        "[info] Status: running",
    ]
    assert cursor == "ev-ftjob-1-9"
    assert drive(watch.look(), hook.request)["status"] == "succeeded"
    assert watch.cursor == "ev-ftjob-1-10"


@pytest.mark.parametrize(
    "event",
    [
        None,
        "succeeded",
        {"status": "weird"},
        {"status": "succeeded", "job": {"status": "running"}},
        {"status": "failed"},
    ],
)
def test_execute_complete_rejects_malformed_events(make_hook: Any, event: Any) -> None:
    with pytest.raises(AirflowException, match="Unexpected event"):
        sensor(make_hook, FakeFineTuningAPI()).execute_complete(context(), event)


def test_format_event_shows_level_message_and_metrics() -> None:
    event = {"level": "warn", "message": "Step 2", "type": "metrics", "data": {"step": 2, "train_loss": 0.1}}
    assert format_event(event) == "[warn] Step 2 | step=2, train_loss=0.1"
    assert format_event({"level": "info", "message": "hi", "type": "message", "data": {}}) == "[info] hi"


def test_two_tries_on_one_sensor_instance_follow_each_try_s_job(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    api.add_job("ftjob-1")
    api.add_job("ftjob-2")
    task = sensor(make_hook, api, deferrable=True)
    with pytest.raises(TaskDeferred) as first:
        task.execute(context(1))
    task.job_id = "ftjob-2"  # the next try renders another job id (the upstream task ran again)
    with pytest.raises(TaskDeferred) as second:
        task.execute(context(2))
    assert (first.value.trigger.job_id, second.value.trigger.job_id) == ("ftjob-1", "ftjob-2")
    assert second.value.trigger.cursor == "ev-ftjob-2-2"

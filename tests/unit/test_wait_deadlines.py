"""
Every wait ends: each kind's default deadline (from what the API promises), measured on a fake clock against a
job that stays in progress for ever; the errors cap that alternating answers cannot reset; the triggers' and the
sensors' defaults, and the cancel at the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import timedelta
from typing import Any

import httpx
import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout

from airflow_provider_openai_fusion import wait_defaults
from airflow_provider_openai_fusion._waiting import JobKind, WaitGaveUp, Watch, drive, wait_deadline
from airflow_provider_openai_fusion.api.batches import BATCHES
from airflow_provider_openai_fusion.api.fine_tuning import FINE_TUNING_JOBS
from airflow_provider_openai_fusion.api.responses import RESPONSES
from airflow_provider_openai_fusion.api.vector_stores import FILE_BATCHES
from airflow_provider_openai_fusion.sensors import OpenAIBatchSensor, OpenAIFineTuningJobSensor
from airflow_provider_openai_fusion.triggers import OpenAIBatchTrigger, OpenAIResponseTrigger

log = logging.getLogger("tests.wait_deadlines")
HOUR = 3600.0
KINDS = [
    pytest.param(BATCHES, "batch_1", "in_progress", 25 * HOUR, id="batch"),
    pytest.param(RESPONSES, "resp_1", "in_progress", 2 * HOUR, id="background response"),
    pytest.param(FINE_TUNING_JOBS, "ftjob-1", "running", 48 * HOUR, id="fine-tuning job"),
    pytest.param(FILE_BATCHES, "vs_1/vsfb_1", "in_progress", 1 * HOUR, id="file batch"),
]


class FakeClock:
    """Unix time that moves only when the wait sleeps."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


class Forever:
    """A server whose job is in progress for ever (its event list is empty); counts what it is asked."""

    def __init__(self, status: str, errors: tuple[int, ...] = ()) -> None:
        self.status = status
        self.errors = list(errors)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/events"):
            return httpx.Response(200, json={"object": "list", "data": [], "has_more": False})
        if self.errors and (status := self.errors.pop(0)):
            return httpx.Response(status, json={"error": {"message": f"fault {status}"}})
        job_id = request.url.path.rsplit("/", 1)[-1]
        status = "cancelling" if request.url.path.endswith("/cancel") else self.status
        return httpx.Response(200, json={"id": job_id, "status": status, "object": "job", "vector_store_id": "vs_1"})

    def looks(self) -> int:
        return sum(1 for r in self.requests if r.method == "GET" and not r.url.path.endswith("/events"))


@pytest.mark.parametrize(("kind", "job_id", "status", "default"), KINDS)
def test_a_job_in_progress_for_ever_ends_at_its_kinds_default_deadline(
    make_hook: Any, kind: JobKind, job_id: str, status: str, default: float
) -> None:
    server, clock = Forever(status), FakeClock()
    assert kind.default_timeout == default
    deadline = wait_deadline(None, None, kind.default_timeout, clock=clock)
    watch = Watch(kind, job_id, log)
    poll = default / 100
    with pytest.raises(AirflowSensorTimeout, match=f"not finished at the deadline, last seen '{status}'"):
        drive(watch.until_done(poll, deadline, clock=clock), make_hook(server).request, clock.sleep)
    assert clock.sleeps == 100, "a look every hundredth of the default up to the deadline, none after it"
    assert server.looks() == clock.sleeps + 1
    assert clock.now <= deadline


def test_wait_deadline_takes_the_timeout_then_the_execution_timeout_then_the_default() -> None:
    clock = FakeClock()
    assert wait_deadline(30, timedelta(hours=1), 99.0, clock=clock) == clock.now + 30
    assert wait_deadline(timedelta(minutes=2), None, 99.0, clock=clock) == clock.now + 120
    assert wait_deadline(None, timedelta(hours=1), 99.0, clock=clock) == clock.now + HOUR
    assert wait_deadline(None, None, 99.0, clock=clock) == clock.now + 99


@pytest.mark.parametrize(
    ("window", "seconds"),
    [("24h", 25 * HOUR), ("1h", 2 * HOUR), ("90m", 2.5 * HOUR), (None, 25 * HOUR), ("x", 25 * HOUR)],
)
def test_a_batch_waits_its_completion_window_plus_an_hour(window: str | None, seconds: float) -> None:
    assert wait_defaults.batch_timeout(window) == seconds


def test_errors_alternating_with_answers_give_up_at_ten_of_the_last_twenty(make_hook: Any) -> None:
    """The errors in a row never pass 1, but half of the looks fail: the wait gives up instead of going on."""
    server, clock = Forever("in_progress", errors=(503, 0) * 50), FakeClock()
    watch = Watch(BATCHES, "batch_1", log)
    with pytest.raises(WaitGaveUp, match=r"gave up after 10 failed checks of the last 19; the last: .*fault 503"):
        drive(watch.until_done(1.0, None, clock=clock), make_hook(server).request, clock.sleep)
    assert server.looks() == 19


def test_errors_now_and_then_do_not_end_the_wait(make_hook: Any) -> None:
    """One look in three fails: below the cap; the job's own end is reached."""
    server = Forever("in_progress", errors=(503, 0, 0) * 20)
    clock = FakeClock()
    watch = Watch(BATCHES, "batch_1", log)
    with pytest.raises(AirflowSensorTimeout, match="last seen 'in_progress'"):
        drive(watch.until_done(1.0, clock.now + 100, clock=clock), make_hook(server).request, clock.sleep)
    assert server.looks() > 60, "past the 20 faults, on to the deadline"


@pytest.mark.parametrize("cancel_on_kill", [True, False])
def test_a_trigger_without_a_deadline_takes_its_kinds_and_cancels_at_it_when_asked(
    make_hook: Any, cancel_on_kill: bool
) -> None:
    server = Forever("in_progress")
    trigger = OpenAIResponseTrigger(job_id="resp_1", conn_id="c", poll_interval=0.01, cancel_on_kill=cancel_on_kill)
    assert trigger.serialize()[1]["deadline"] == pytest.approx(trigger.deadline)
    assert math.isclose(trigger.deadline - 2 * HOUR, asyncio.run(_now()), abs_tol=5)
    trigger.deadline = asyncio.run(_now()) + 0.05
    trigger.hook = make_hook(server)
    (event,) = asyncio.run(_events(trigger))
    assert event["status"] == "timeout" and "last seen 'in_progress'" in event["message"]
    cancels = [r.url.path for r in server.requests if r.method == "POST"]
    assert cancels == (["/v1/responses/resp_1/cancel"] if cancel_on_kill else [])
    assert event.get("cancelled", False) is cancel_on_kill


def test_the_batch_trigger_cancels_every_batch_still_running_at_its_deadline(make_hook: Any) -> None:
    server = Forever("in_progress")
    trigger = OpenAIBatchTrigger(
        job_id="batch_1", batch_ids=["batch_1", "batch_2"], conn_id="c", poll_interval=0.01, cancel_on_kill=True
    )
    trigger.deadline = asyncio.run(_now()) + 0.05
    trigger.hook = make_hook(server)
    (event,) = asyncio.run(_events(trigger))
    assert event["status"] == "timeout" and event["cancelled"] is True
    assert [r.url.path for r in server.requests if r.method == "POST"] == [
        "/v1/batches/batch_1/cancel",
        "/v1/batches/batch_2/cancel",
    ]


def test_a_sensor_defaults_to_its_kinds_deadline_and_keeps_an_explicit_one() -> None:
    assert OpenAIBatchSensor(task_id="b", batch_id="batch_1").timeout == 25 * HOUR
    assert OpenAIFineTuningJobSensor(task_id="f", job_id="ftjob-1").timeout == 48 * HOUR
    assert OpenAIBatchSensor(task_id="b", batch_id="batch_1", timeout=60).timeout == 60


def test_a_poking_sensor_fails_at_its_timeout_with_the_jobs_last_status(make_hook: Any) -> None:
    # How many pokes fit in the timeout depends on the machine's speed (Airflow's poke loop reads the wall
    # clock): one always happens, and the message names what it saw. Poking again is shown by the sensor
    # tests of test_batches_operator.py, whose batch moves from finalizing to completed.
    server = Forever("in_progress")
    sensor = OpenAIBatchSensor(task_id="wait", batch_id="batch_1", poke_interval=0.01, timeout=0.05)
    sensor.hook = make_hook(server)
    with pytest.raises(AirflowSensorTimeout, match="batch batch_1: last seen 'in_progress'"):
        sensor.execute({})
    assert server.looks() >= 1


async def _now() -> float:
    import time

    return time.time()


async def _events(trigger: Any) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]

"""
Unattended runs end: against servers that announce tiny rate limits, and against jobs that never finish, each
call completes or fails clearly within its bound, counting the requests it took.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout

from airflow_provider_openai_fusion._waiting import WaitGaveUp, Watch, drive, wait_deadline
from airflow_provider_openai_fusion.api.batches import BATCHES
from airflow_provider_openai_fusion.api.responses import RESPONSES
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators.embeddings import OpenAIEmbeddingsOperator
from airflow_provider_openai_fusion.sensors import OpenAIBatchSensor
from airflow_provider_openai_fusion.triggers import OpenAIFineTuningJobTrigger
from tests.reliability.fault_server import FaultServer, Reply, Request, json_reply, openai_error

log = logging.getLogger("tests.bounded_waits")
INPUTS_PER_REQUEST = 2048
REQUESTS = 8


class TinyLimits:
    """
    An embeddings server that allows ``limit`` of ``kind`` (requests, or tokens counted one per input) per fixed
    window of ``window`` seconds, says so in ``x-ratelimit-*`` headers, and answers 429 past it.
    """

    def __init__(self, kind: str, limit: int, window: float = 1.0) -> None:
        self.kind, self.limit, self.window = kind, limit, window
        self.started, self.used = time.monotonic(), 0
        self.answered: list[str] = []
        self.refused = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        texts = request.json()["input"]
        cost = 1 if self.kind == "requests" else len(texts)
        with self._lock:
            now = time.monotonic()
            if now - self.started >= self.window:
                self.started, self.used = now, 0
            reset_ms = max(int((self.started + self.window - now) * 1000), 1)
            if self.used + cost > self.limit:
                self.refused += 1
                return json_reply(429, {"error": {"message": "slow down"}}, retry_after_ms=str(reset_ms))
            self.used += cost
            self.answered += texts
            remaining = self.limit - self.used
        items = [{"object": "embedding", "index": i, "embedding": [float(t[5:]), 0.5]} for i, t in enumerate(texts)]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        answer = {"object": "list", "data": items, "model": "text-embedding-3-small", "usage": usage}
        limits = {
            f"x-ratelimit-limit-{self.kind}": str(self.limit),
            f"x-ratelimit-remaining-{self.kind}": str(remaining),
            f"x-ratelimit-reset-{self.kind}": f"{reset_ms}ms",
        }
        return json_reply(200, answer, **{name.replace("-", "_"): value for name, value in limits.items()})


@pytest.mark.parametrize(("kind", "limit"), [("requests", 2), ("tokens", 2 * INPUTS_PER_REQUEST)])
def test_embeddings_against_tiny_announced_limits_complete_after_a_first_burst_over_them(
    kind: str, limit: int, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """
    Four requests go before any answer (``max_concurrency=4``), twice what the server allows: the gate used to
    stay shut for good after them. Sends older than the window age out, so all 8 requests are answered, paced.
    """
    texts = [f"text-{i}" for i in range(REQUESTS * INPUTS_PER_REQUEST)]
    tiny = TinyLimits(kind, limit)
    server.script(tiny)
    operator = OpenAIEmbeddingsOperator(
        task_id="embed", model="text-embedding-3-small", input=texts, dimensions=2, max_concurrency=4
    )
    operator.hook = hook_at(server.base_url, max_retries=5)
    started = time.monotonic()
    result = operator.execute(context={})
    elapsed = time.monotonic() - started

    assert [item["embedding"][0] for item in result["data"]] == [float(i) for i in range(len(texts))]
    assert sorted(tiny.answered, key=lambda text: int(text[5:])) == texts, "every input answered exactly once"
    assert server.attempts == REQUESTS + tiny.refused
    assert tiny.refused <= 4, "only the first burst, sent before any answer, may overrun the limit"
    assert elapsed < 60, f"{elapsed:.1f} s for 8 requests at 2 per second: the gate must not stay shut"


def _in_progress_for_ever(request: Request) -> Reply:
    """A job that never ends (and an empty event list); a cancel is answered ``cancelling``."""
    path = request.target.split("?")[0].rstrip("/").split("/")
    if path[-1] == "events":
        return json_reply(200, {"object": "list", "data": [], "has_more": False})
    status = "cancelling" if request.method == "POST" else "in_progress"
    job_id = path[-2] if path[-1] == "cancel" else path[-1]
    return json_reply(200, {"id": job_id, "object": "job", "status": status})


def _gets(server: FaultServer) -> int:
    return sum(1 for request in server.requests if request.method == "GET")


def test_a_wait_without_timeout_ends_at_the_kinds_default_deadline_on_a_fake_clock(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """A background response in progress for ever, polled every 30 s with no timeout: 2 hours, 241 looks."""
    server.script(_in_progress_for_ever)
    clock = [1_800_000_000.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    deadline = wait_deadline(None, None, RESPONSES.default_timeout, clock=lambda: clock[0])
    hook = hook_at(server.base_url)
    with pytest.raises(AirflowSensorTimeout, match="response resp_1 not finished at the deadline, last seen 'in"):
        drive(Watch(RESPONSES, "resp_1", log).until_done(30.0, deadline, clock=lambda: clock[0]), hook.request, sleep)
    hook.close()
    assert server.attempts == _gets(server) == 2 * 3600 // 30 + 1


def test_errors_alternating_with_in_progress_end_the_wait(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """503, in_progress, 503, ...: never two errors in a row, but 10 of the last 19 looks failed."""
    answers = itertools.cycle([openai_error(503, "busy", "server_error", None), None])

    def flaky(request: Request) -> Reply:
        return next(answers) or _in_progress_for_ever(request)

    server.script(flaky)
    hook = hook_at(server.base_url, max_retries=0)
    with pytest.raises(WaitGaveUp, match="gave up after 10 failed checks of the last 19"):
        drive(Watch(BATCHES, "batch_1", log).until_done(0.001, None), hook.request)
    hook.close()
    assert server.attempts == 19


def test_a_deferred_wait_cancels_its_job_at_the_deadline_and_reports_the_last_status(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    server.script(_in_progress_for_ever)
    trigger = OpenAIFineTuningJobTrigger(
        job_id="ftjob-1", conn_id="unused", poll_interval=0.05, deadline=time.time() + 0.5, cancel_on_kill=True
    )
    trigger.hook = hook_at(server.base_url)

    async def events() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    (event,) = asyncio.run(events())
    assert event["status"] == "timeout" and event["cancelled"] is True
    assert "last seen 'in_progress'" in event["message"]
    assert [request.target for request in server.requests if request.method == "POST"] == [
        "/v1/fine_tuning/jobs/ftjob-1/cancel"
    ]
    assert 2 <= _gets(server) <= 2 * (0.5 / 0.05 + 1), "one look and its events page per poll, within the deadline"


def test_a_poking_sensor_fails_at_its_timeout_with_the_last_status(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    server.script(_in_progress_for_ever)
    sensor = OpenAIBatchSensor(task_id="wait", batch_id="batch_1", poke_interval=0.05, timeout=0.5)
    sensor.hook = hook_at(server.base_url)
    with pytest.raises(AirflowSensorTimeout, match="batch batch_1: last seen 'in_progress'"):
        sensor.execute({})
    assert 2 <= server.attempts <= 0.5 / 0.05 + 2
    assert not [request for request in server.requests if request.method == "POST"], "a sensor cancels nothing"

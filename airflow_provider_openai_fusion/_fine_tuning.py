"""
What the fine-tuning sensor, trigger and operator share, without doing any I/O.

- :class:`JobWatch` follows one job: a generator of requests (the job, then its events page by page, newest
  first as the API lists them, until the last event already seen) fed with the answers by a sync or an async
  driver (:func:`drive` / :func:`adrive`), so that the poke and the trigger run the same steps.
- :func:`event_for` turns a job into the trigger's terminal event; :func:`finish` turns such an event into the
  task's result (the job) or the exception that fails or skips the task.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout, AirflowSkipException

from airflow_provider_openai_fusion import _calls
from airflow_provider_openai_fusion._core import RequestSpec
from airflow_provider_openai_fusion.exceptions import APIError, OpenAIFusionError

TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")
EVENT_STATUSES = (*TERMINAL_STATUSES, "timeout", "error")
ON_CANCELLED = ("fail", "skip")
EVENTS_PAGE_SIZE = 100
MAX_TRANSIENT_ERRORS = 10
MAX_ERROR_DELAY = 300.0

Poll = Generator[RequestSpec, Any, tuple[dict[str, Any], list[dict[str, Any]]]]


class FineTuningJobError(OpenAIFusionError, AirflowFailException):
    """
    The fine-tuning job ended without a model: it failed or was cancelled. Airflow does not retry the task.

    :param job_id: the job id.
    :param status: ``failed`` or ``cancelled``.
    :param error: the job's ``error`` object (``code``, ``message``, ``param``), when it failed.
    """

    def __init__(self, job_id: str, status: str, error: Mapping[str, Any] | None = None) -> None:
        self.job_id = job_id
        self.status = status
        self.code = (error or {}).get("code")
        self.message = (error or {}).get("message")
        self.param = (error or {}).get("param")
        if status == "failed":
            text = f"Fine-tuning job {job_id} failed: {self.message or 'no message'} (code: {self.code}, "
            text += f"param: {self.param})"
        else:
            text = f"Fine-tuning job {job_id} was cancelled"
        super().__init__(text)


class JobWatch:
    """
    Follows one fine-tuning job: its status, and which of its events are new since the last look.

    :param job_id: the job id.
    :param last_event_id: the newest event already reported; ``None`` reports every event.
    """

    def __init__(self, job_id: str, last_event_id: str | None = None) -> None:
        self.job_id = job_id
        self.last_event_id = last_event_id

    def poll(self) -> Poll:
        """
        The requests of one look, as a generator fed with each answer: returns the job and its new events,
        oldest first, and remembers the newest one.
        """
        job = yield _calls.retrieve_fine_tuning_job(self.job_id)
        fresh: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = yield _calls.list_fine_tuning_events(self.job_id, {"after": after, "limit": EVENTS_PAGE_SIZE})
            data = page.get("data") or []
            ids = [event.get("id") for event in data]
            if self.last_event_id in ids:
                fresh += data[: ids.index(self.last_event_id)]
                break
            fresh += data
            if not page.get("has_more") or not data:
                break
            after = ids[-1]
        fresh.reverse()
        if fresh:
            self.last_event_id = fresh[-1].get("id")
        return job, fresh


def drive(poll: Poll, send: Callable[[RequestSpec], Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """
    Run a :meth:`JobWatch.poll` with a sync ``send``.

    :param poll: the generator.
    :param send: sends one request and returns its JSON answer.
    """
    try:
        spec = next(poll)
        while True:
            spec = poll.send(send(spec))
    except StopIteration as stop:
        return stop.value


async def adrive(
    poll: Poll, send: Callable[[RequestSpec], Awaitable[Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """
    Run a :meth:`JobWatch.poll` with an async ``send``.

    :param poll: the generator.
    :param send: sends one request and returns its JSON answer.
    """
    try:
        spec = next(poll)
        while True:
            spec = poll.send(await send(spec))
    except StopIteration as stop:
        return stop.value


def format_event(event: Mapping[str, Any]) -> str:
    """
    One task-log line for a job event: level, message, and the metrics of ``metrics`` events.

    :param event: the event object.
    """
    line = f"[{event.get('level', 'info')}] {event.get('message', '')}"
    data = event.get("data")
    if event.get("type") == "metrics" and isinstance(data, Mapping) and data:
        line += " | " + ", ".join(f"{key}={value}" for key, value in data.items())
    return line


def log_events(log: Any, job_id: str, events: list[dict[str, Any]]) -> None:
    """
    Write each event to ``log``, oldest first, at the event's level.

    :param log: a logger.
    :param job_id: the job id.
    :param events: new events, oldest first.
    """
    for event in events:
        level = {"warn": "warning", "error": "error"}.get(str(event.get("level")), "info")
        getattr(log, level)("Fine-tuning job %s: %s", job_id, format_event(event))


def is_transient(exc: BaseException) -> bool:
    """
    Whether a failed poll is worth another try: 408/409/429/5xx, timeouts, connection errors, bad bodies.

    :param exc: the exception of the poll.
    """
    return isinstance(exc, APIError) and not isinstance(exc, AirflowFailException)


def error_delay(errors_in_a_row: int, poll_interval: float, rng: random.Random | None = None) -> float:
    """
    How long to wait after ``errors_in_a_row`` transient errors: the poll interval doubled each time, capped.

    :param errors_in_a_row: consecutive transient errors so far (1 for the first).
    :param poll_interval: the normal wait between polls.
    :param rng: a random generator, for reproducible tests.
    """
    base = min(poll_interval * 2 ** max(errors_in_a_row - 1, 0), MAX_ERROR_DELAY)
    return base * (1 - 0.25 * (rng or random).random())


def event_for(job: Mapping[str, Any]) -> dict[str, Any] | None:
    """
    The terminal event of a job, or ``None`` while it is still running.

    :param job: the job object.
    """
    status = job.get("status")
    if status not in TERMINAL_STATUSES:
        return None
    return {"status": status, "job_id": job.get("id"), "job": dict(job)}


def finish(event: Any, on_cancelled: str = "fail") -> dict[str, Any]:
    """
    Turn a terminal event into the task's result, checking it first: the job when it succeeded, else raise.

    :param event: the event (from the trigger, or :func:`event_for`).
    :param on_cancelled: ``fail`` or ``skip`` when the job was cancelled.
    """
    if not isinstance(event, Mapping) or event.get("status") not in EVENT_STATUSES:
        raise AirflowException(f"Unexpected event from the fine-tuning trigger: {event!r}")
    status, job_id = event["status"], str(event.get("job_id"))
    job = event.get("job")
    if status in TERMINAL_STATUSES and not (isinstance(job, Mapping) and job.get("status") == status):
        raise AirflowException(f"Unexpected event from the fine-tuning trigger: {event!r}")
    if status == "succeeded":
        return dict(job)
    if status == "failed":
        raise FineTuningJobError(job_id, status, job.get("error"))
    if status == "cancelled":
        if on_cancelled == "skip":
            raise AirflowSkipException(f"Fine-tuning job {job_id} was cancelled")
        raise FineTuningJobError(job_id, status)
    message = str(event.get("message"))
    if status == "timeout":
        raise AirflowSensorTimeout(f"Fine-tuning job {job_id}: {message}")
    if event.get("retryable"):
        raise AirflowException(f"Fine-tuning job {job_id}: {message}")
    raise AirflowFailException(f"Fine-tuning job {job_id}: {message}")

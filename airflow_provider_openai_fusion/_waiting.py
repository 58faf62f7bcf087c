"""
The one poll loop for long-running jobs (fine-tuning jobs, batches, background responses, vector-store file
batches), written once and run by a sync or an async driver.

A :class:`JobKind` says how to follow one kind of job: how to look at it (one or more requests), which statuses
end the wait, how to cancel it, and what each final status means for the task. A :class:`Watch` follows one job:
:meth:`Watch.look` takes one look (what a sensor's poke does) and :meth:`Watch.until_done` looks until the job
ends, backing off on transient errors, giving up after :data:`MAX_TRANSIENT_ERRORS` of them in a row or among the
last ``2 * MAX_TRANSIENT_ERRORS`` looks (errors alternating with answers do not go on for ever; the last error is
shown), and at an absolute deadline, which every wait has (:func:`wait_deadline`; each kind's default is in
:mod:`~airflow_provider_openai_fusion.wait_defaults`), failing with the job's last status. Both are generators of
:class:`~airflow_provider_openai_fusion._http.request.RequestSpec` and :class:`Sleep` steps; :func:`drive` runs
them with the sync client and ``time.sleep``, :func:`adrive` with the async client and ``asyncio.sleep``, so the
operator's wait, the sensor's poke and the trigger run the same steps.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout

from airflow_provider_openai_fusion._http.redaction import printable
from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.exceptions import APIError

MAX_TRANSIENT_ERRORS = 10
MAX_ERROR_DELAY = 300.0
EVENT_STATUSES = ("timeout", "error")

Look = Generator[RequestSpec, Any, tuple[dict[str, Any], list[tuple[str, str]], Any]]


@dataclass(frozen=True)
class Sleep:
    """
    A step of a wait: pause this long before the next look.

    :param seconds: the pause.
    """

    seconds: float


Steps = Generator["RequestSpec | Sleep", Any, Any]


class JobKind:
    """
    How to follow one kind of long-running job. Subclasses set the names and statuses and build the requests.

    :cvar noun: what the job is called in messages, e.g. ``fine-tuning job``.
    :cvar terminal: the statuses that end the wait.
    :cvar default_timeout: seconds a wait lasts when the task sets no ``timeout`` nor ``execution_timeout``.
    """

    noun = "job"
    terminal: tuple[str, ...] = ()
    default_timeout: float = 24 * 3600.0

    def retrieve(self, job_id: str) -> RequestSpec:
        """
        The request that fetches the job.

        :param job_id: the job id.
        """
        raise NotImplementedError

    def cancel(self, job_id: str) -> RequestSpec:
        """
        The request that cancels the job.

        :param job_id: the job id.
        """
        raise NotImplementedError

    def look(self, job_id: str, cursor: Any) -> Look:
        """
        One look at the job: yields requests, gets their answers, returns the job, log lines ``(level, text)``
        and the new cursor (what has been reported so far, kept across looks and through deferral).

        :param job_id: the job id.
        :param cursor: the cursor of the previous look; ``None`` at first.
        """
        job = yield self.retrieve(job_id)
        return job, [], cursor

    def outcome(self, job: Mapping[str, Any], on_cancelled: str) -> Any:
        """
        What a finished job means for the task: its result, or an exception raised.

        :param job: the job in a terminal status.
        :param on_cancelled: ``fail`` or ``skip`` when the job was cancelled.
        """
        return dict(job)


def is_transient(exc: BaseException) -> bool:
    """
    Whether a failed look is worth another try: 408/409/429/5xx, timeouts, connection errors, bad bodies.

    :param exc: the exception of the look.
    """
    return isinstance(exc, APIError) and not isinstance(exc, AirflowFailException)


def error_delay(errors_in_a_row: int, poll_interval: float, rng: random.Random | None = None) -> float:
    """
    How long to wait after ``errors_in_a_row`` transient errors: the poll interval doubled each time, capped.

    :param errors_in_a_row: consecutive transient errors so far (1 for the first).
    :param poll_interval: the normal wait between looks.
    :param rng: a random generator, for reproducible tests.
    """
    base = min(poll_interval * 2 ** max(errors_in_a_row - 1, 0), MAX_ERROR_DELAY)
    return cast("float", base * (1 - 0.25 * (rng or random).random()))


class WaitGaveUp(AirflowException):
    """The wait ended without a final status: too many transient errors in a row or among the recent looks."""


def wait_deadline(
    timeout: float | timedelta | None,
    execution_timeout: timedelta | None,
    default: float,
    clock: Callable[[], float] = time.time,
) -> float:
    """
    The Unix time at which a wait starting now gives up: after ``timeout`` if set, else after the task's
    ``execution_timeout``, else after ``default`` (the kind's, from what the API promises).

    :param timeout: the task's ``timeout`` argument (seconds or a timedelta), if any.
    :param execution_timeout: the task's ``execution_timeout``, if any.
    :param default: the kind's default wait in seconds.
    :param clock: the clock, for tests.
    """
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
    if seconds is None and execution_timeout is not None:
        seconds = execution_timeout.total_seconds()
    return clock() + (seconds if seconds is not None else default)


@contextmanager
def cancelled_at_deadline(cancel: Callable[[], Any], log: logging.Logger | Any) -> Iterator[None]:
    """
    Run a wait; if it passes its deadline (:class:`AirflowSensorTimeout`), call ``cancel`` (which cancels the job
    when the task's ``cancel_on_kill`` is set), then let the timeout fail the task. A failed cancel is logged; the
    timeout, with the job's last status, stays the task's error.

    :param cancel: cancels what the wait waits for.
    :param log: where a failed cancel is reported.
    """
    try:
        yield
    except AirflowSensorTimeout:
        try:
            cancel()
        except Exception as exc:
            log.warning("Could not cancel after the deadline: %s", exc)
        raise


@dataclass
class Watch:
    """
    Follows one job across looks.

    :param kind: the kind of job.
    :param job_id: the job id.
    :param log: where progress is written.
    :param cursor: the kind's cursor (e.g. the newest job event already logged).
    :param max_errors: transient errors in a row, or among the last ``2 * max_errors`` looks, before giving up.
    """

    kind: JobKind
    job_id: str
    log: logging.Logger | Any
    cursor: Any = None
    max_errors: int = MAX_TRANSIENT_ERRORS
    errors: int = field(default=0)
    last: dict[str, Any] | None = field(default=None)
    recent: deque[bool] = field(default_factory=deque)

    def look(self) -> Generator[RequestSpec, Any, dict[str, Any] | None]:
        """One look: the job, or ``None`` after a transient error (counted; too many raise)."""
        try:
            job, lines, cursor = yield from self.kind.look(self.job_id, self.cursor)
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.errors += 1
            self._remember_look(failed=True)
            if self.errors >= self.max_errors or sum(self.recent) >= self.max_errors:
                run = (
                    f"{self.errors} failed checks in a row"
                    if self.errors >= self.max_errors
                    else f"{sum(self.recent)} failed checks of the last {len(self.recent)}"
                )
                raise WaitGaveUp(f"{self.kind.noun} {self.job_id}: gave up after {run}; the last: {exc}") from None
            self.log.warning(
                "Checking %s %s failed (%s of at most %d in a row): %s",
                self.kind.noun,
                self.job_id,
                self.errors,
                self.max_errors,
                exc,
            )
            return None
        self.errors = 0
        self._remember_look(failed=False)
        self.last = dict(job) if isinstance(job, Mapping) else None
        self.cursor = cursor
        for level, text in lines:
            getattr(self.log, level)("%s %s: %s", self.kind.noun.capitalize(), self.job_id, text)
        self.log.info("%s %s is %s", self.kind.noun.capitalize(), self.job_id, printable(job.get("status")))
        return job

    def _remember_look(self, *, failed: bool) -> None:
        self.recent.append(failed)
        while len(self.recent) > 2 * self.max_errors:
            self.recent.popleft()

    def last_status(self) -> str:
        """The job's status at the last successful look (shown quoted, at most 64 characters), for messages."""
        if self.last is None:
            return "never seen (no check succeeded)"
        return f"last seen {str(self.last.get('status'))[:64]!r}"

    def done(self, job: Mapping[str, Any] | None) -> bool:
        """
        Whether ``job`` is in a final status.

        :param job: the job from :meth:`look`, or ``None``.
        """
        return job is not None and job.get("status") in self.kind.terminal

    def until_done(self, poll_interval: float, deadline: float | None, clock: Callable[[], float] = time.time) -> Steps:
        """
        Look until the job ends; return it. Transient errors back off; past ``deadline`` the wait gives up.

        :param poll_interval: seconds between looks.
        :param deadline: give up at this Unix time (:func:`wait_deadline`); ``None`` waits as long as it takes
            (nothing in the provider passes ``None``).
        :param clock: the clock, for tests.
        """
        while True:
            job = yield from self.look()
            if self.done(job):
                return job
            delay = poll_interval if job is not None else error_delay(self.errors, poll_interval)
            if deadline is not None and clock() + delay > deadline:
                raise AirflowSensorTimeout(
                    f"{self.kind.noun} {self.job_id} not finished at the deadline, {self.last_status()}"
                )
            yield Sleep(delay)


def drive(steps: Steps, send: Callable[[RequestSpec], Any], sleep: Callable[[float], Any] = time.sleep) -> Any:
    """
    Run a wait's steps with a sync ``send``; a failed request is thrown back into the steps.

    :param steps: the generator.
    :param send: sends one request and returns its JSON answer.
    :param sleep: pauses (``time.sleep``).
    """
    result: Any = None
    error: Exception | None = None
    while True:
        try:
            step = steps.throw(error) if error is not None else steps.send(result)
        except StopIteration as stop:
            return stop.value
        result, error = None, None
        try:
            if isinstance(step, Sleep):
                sleep(step.seconds)
            else:
                result = send(step)
        except Exception as exc:
            error = exc


async def adrive(
    steps: Steps,
    send: Callable[[RequestSpec], Awaitable[Any]],
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> Any:
    """
    Run a wait's steps with an async ``send``; never blocks the event loop.

    :param steps: the generator.
    :param send: sends one request and returns its JSON answer.
    :param sleep: pauses (``asyncio.sleep``).
    """
    result: Any = None
    error: Exception | None = None
    while True:
        try:
            step = steps.throw(error) if error is not None else steps.send(result)
        except StopIteration as stop:
            return stop.value
        result, error = None, None
        try:
            if isinstance(step, Sleep):
                await sleep(step.seconds)
            else:
                result = await send(step)
        except Exception as exc:
            error = exc


def event_for(kind: JobKind, job: Mapping[str, Any]) -> dict[str, Any]:
    """
    The trigger's terminal event for a finished job.

    :param kind: the kind of job.
    :param job: the job in a terminal status.
    """
    return {"status": job.get("status"), "job_id": job.get("id"), "job": dict(job)}


def summary_event(job_id: str, job: Mapping[str, Any]) -> dict[str, Any]:
    """
    What a trigger yields for a finished job: its status and the id it watched, never the whole job (events are
    stored in the metadata database; the task reads the job again when it resumes, see :func:`resumed`).

    :param job_id: the id the trigger watched (as its kind's ``retrieve`` takes it).
    :param job: the job in a terminal status.
    """
    return {"status": job.get("status"), "job_id": job_id}


def resumed(kind: JobKind, event: Any, request: Callable[[Any], Any]) -> Any:
    """
    The event a resumed task checks: a terminal event from a trigger (ids only) with the job read again; any other
    event as it came.

    :param kind: the kind of job.
    :param event: the trigger's event.
    :param request: sends one call (the hook's ``request``).
    """
    if not (isinstance(event, Mapping) and event.get("status") in kind.terminal and "job" not in event):
        return event
    if not isinstance(event.get("job_id"), str) or not event["job_id"]:
        return event  # malformed: finish() says so
    job = request(kind.retrieve(str(event.get("job_id"))))
    if not (isinstance(job, Mapping) and job.get("status") in kind.terminal):
        raise AirflowException(f"{kind.noun} {event.get('job_id')} ended as {event['status']!r}, but reads {job!r}")
    return event_for(kind, job)


def finish(kind: JobKind, event: Any, on_cancelled: str = "fail") -> Any:
    """
    Turn a trigger's event into the task's result, checking it first.

    :param kind: the kind of job.
    :param event: the event (from the trigger, or :func:`event_for`).
    :param on_cancelled: ``fail`` or ``skip`` when the job was cancelled.
    """
    if not isinstance(event, Mapping) or event.get("status") not in (*kind.terminal, *EVENT_STATUSES):
        raise AirflowException(f"Unexpected event from the {kind.noun} trigger: {event!r}")
    status, job_id, job = event["status"], str(event.get("job_id")), event.get("job")
    if status in kind.terminal:
        if not (isinstance(job, Mapping) and job.get("status") == status):
            raise AirflowException(f"Unexpected event from the {kind.noun} trigger: {event!r}")
        return kind.outcome(job, on_cancelled)
    message = str(event.get("message"))
    if status == "timeout":
        raise AirflowSensorTimeout(f"{kind.noun} {job_id}: {message}")
    if event.get("retryable"):
        raise AirflowException(f"{kind.noun} {job_id}: {message}")
    raise AirflowFailException(f"{kind.noun} {job_id}: {message}")

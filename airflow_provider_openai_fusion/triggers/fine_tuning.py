"""The trigger that waits for a fine-tuning job in the triggerer, with the async client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_openai_fusion._fine_tuning import (
    MAX_TRANSIENT_ERRORS,
    JobWatch,
    adrive,
    error_delay,
    event_for,
    is_transient,
    log_events,
)

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook


class OpenAIFineTuningJobTrigger(BaseTrigger):
    """
    Poll a fine-tuning job until it ends, writing each new job event to the log, oldest first; then yield one
    event: ``succeeded``/``failed``/``cancelled`` with the job, ``timeout`` past ``deadline``, or ``error``.

    Transient failures (429, 5xx, timeouts, connection errors) are ridden out with growing waits, up to
    ``MAX_TRANSIENT_ERRORS`` in a row; any other API error ends the wait at once.

    :param job_id: the fine-tuning job id.
    :param conn_id: the Airflow Connection of type ``openai_fusion``.
    :param poll_interval: seconds between polls.
    :param deadline: give up at this Unix time; ``None`` waits as long as it takes.
    :param last_event_id: the newest job event already logged.
    :param cancel_on_kill: cancel the job if a user kills the deferred task.
    """

    def __init__(
        self,
        *,
        job_id: str,
        conn_id: str,
        poll_interval: float = 30.0,
        deadline: float | None = None,
        last_event_id: str | None = None,
        cancel_on_kill: bool = False,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.last_event_id = last_event_id
        self.cancel_on_kill = cancel_on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "last_event_id": self.last_event_id,
                "cancel_on_kill": self.cancel_on_kill,
            },
        )

    @cached_property
    def hook(self) -> OpenAIFusionHook:
        """The hook of ``conn_id``; its connection is read without blocking the event loop."""
        from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

        return OpenAIFusionHook(conn_id=self.conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch = JobWatch(self.job_id, self.last_event_id)
        errors = 0
        try:
            while True:
                try:
                    job, events = await adrive(watch.poll(), self.hook.arequest)
                except Exception as exc:
                    errors += 1
                    if not is_transient(exc) or errors > MAX_TRANSIENT_ERRORS:
                        yield TriggerEvent(self._error(exc, retryable=is_transient(exc)))
                        return
                    delay = error_delay(errors, self.poll_interval)
                    self.log.warning("Polling job %s failed (%s); next try in %.1f s", self.job_id, exc, delay)
                else:
                    errors = 0
                    self.last_event_id = watch.last_event_id
                    log_events(self.log, self.job_id, events)
                    self.log.info("Fine-tuning job %s is %s", self.job_id, job.get("status"))
                    if (event := event_for(job)) is not None:
                        yield TriggerEvent(event)
                        return
                    delay = self.poll_interval
                if self.deadline is not None and time.time() + delay > self.deadline:
                    message = f"still not finished at the deadline ({time.time() - self.deadline:+.0f} s)"
                    yield TriggerEvent({"status": "timeout", "job_id": self.job_id, "message": message})
                    return
                await asyncio.sleep(delay)
        finally:
            await self.hook.aclose()

    def _error(self, exc: BaseException, *, retryable: bool) -> dict[str, Any]:
        return {"status": "error", "job_id": self.job_id, "message": str(exc), "retryable": retryable}

    async def on_kill(self) -> None:
        """Cancel the job when a user kills the deferred task and ``cancel_on_kill`` is set."""
        if self.cancel_on_kill:
            job = await self.hook.acancel_fine_tuning_job(self.job_id)
            self.log.info("Cancelled fine-tuning job %s (status %s)", self.job_id, job.get("status"))
            await self.hook.aclose()

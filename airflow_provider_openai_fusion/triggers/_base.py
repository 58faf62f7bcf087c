"""The trigger every long-running job waits in: the one poll loop of ``_waiting``, run with the async client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk.exceptions import AirflowSensorTimeout
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_openai_fusion._bounds import bounded_event
from airflow_provider_openai_fusion._waiting import JobKind, WaitGaveUp, Watch, adrive, is_transient, summary_event

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook


class JobTrigger(BaseTrigger):
    """
    Poll a job until it ends, writing its progress to the log; then yield one event: the job's final status with
    its id (never the whole job: the task reads it again when it resumes, ``_waiting.resumed``), ``timeout`` past
    ``deadline`` (with the job's last status; with ``cancel_on_kill`` the job is cancelled first and the event
    says ``"cancelled": true``), or ``error`` (``retryable`` when transient errors ran out). Every event is
    measured against the bound of a trigger event (``_bounds.py``).

    Subclasses set :attr:`kind`.

    :param job_id: the job id.
    :param conn_id: the Airflow Connection of type ``openai_fusion``.
    :param poll_interval: seconds between polls.
    :param deadline: give up at this Unix time; ``None``: the kind's default wait from now (see
        :mod:`~airflow_provider_openai_fusion.wait_defaults`), fixed when the trigger is created.
    :param cursor: the kind's progress cursor (e.g. the newest job event already logged).
    :param cancel_on_kill: cancel the job if a user kills the deferred task.
    """

    kind: ClassVar[JobKind]

    def __init__(
        self,
        *,
        job_id: str,
        conn_id: str,
        poll_interval: float = 30.0,
        deadline: float | None = None,
        cursor: Any = None,
        cancel_on_kill: bool = False,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger.__init__ has no annotations
        self.job_id = job_id
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline if deadline is not None else time.time() + self.kind.default_timeout
        self.cursor = cursor
        self.cancel_on_kill = cancel_on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "cursor": self.cursor,
                "cancel_on_kill": self.cancel_on_kill,
            },
        )

    @cached_property
    def hook(self) -> OpenAIFusionHook:
        """
        The hook of ``conn_id``; its connection is read without blocking the event loop, and its client is shared
        with the other triggers of the loop with the same settings.
        """
        from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

        return OpenAIFusionHook(conn_id=self.conn_id, shared_client=True)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch = Watch(self.kind, self.job_id, self.log, cursor=self.cursor)
        try:
            job = await adrive(watch.until_done(self.poll_interval, self.deadline), self.hook.arequest)
        except AirflowSensorTimeout as exc:
            yield TriggerEvent(await self._timed_out(exc))
            return
        except WaitGaveUp as exc:
            yield TriggerEvent(self._error(exc, retryable=True))
            return
        except Exception as exc:
            yield TriggerEvent(self._error(exc, retryable=is_transient(exc)))
            return
        finally:
            self.cursor = watch.cursor
            await self.hook.aclose()
        yield TriggerEvent(bounded_event(summary_event(self.job_id, job), type(self).__name__))

    def _error(self, exc: BaseException, *, retryable: bool) -> dict[str, Any]:
        return {"status": "error", "job_id": self.job_id, "message": str(exc)[:2000], "retryable": retryable}

    async def _timed_out(self, exc: AirflowSensorTimeout) -> dict[str, Any]:
        """The ``timeout`` event; with ``cancel_on_kill``, the job is cancelled first (a failure is only logged)."""
        event = {"status": "timeout", "job_id": self.job_id, "message": str(exc)}
        if not self.cancel_on_kill:
            return event
        try:
            await self._cancel()
        except Exception as error:
            self.log.warning("Could not cancel %s %s after the deadline: %s", self.kind.noun, self.job_id, error)
            return event
        return {**event, "cancelled": True}

    async def _cancel(self) -> None:
        """Cancel the job."""
        job = await self.hook.arequest(self.kind.cancel(self.job_id))
        self.log.info("Cancelled %s %s (status %s)", self.kind.noun, self.job_id, job.get("status"))

    async def on_kill(self) -> None:
        """Cancel the job when a user kills the deferred task and ``cancel_on_kill`` is set."""
        if self.cancel_on_kill:
            await self._cancel()
            await self.hook.aclose()

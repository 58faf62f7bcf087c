"""The trigger that waits for one batch (the sensor) or for every batch of an operator's run, in the triggerer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk.exceptions import AirflowSensorTimeout
from airflow.triggers.base import TriggerEvent

from airflow_provider_openai_fusion._bounds import bounded_event
from airflow_provider_openai_fusion._waiting import WaitGaveUp, Watch, adrive, is_transient
from airflow_provider_openai_fusion.api.batches import BATCHES
from airflow_provider_openai_fusion.triggers._base import JobTrigger

ALL_DONE = "all_done"


class OpenAIBatchTrigger(JobTrigger):
    """
    Poll batches until they end, logging their request counts; then yield one event.

    With ``job_id`` alone (the sensor): the batch's final status with the batch, as
    :class:`~airflow_provider_openai_fusion.triggers._base.JobTrigger` does. With ``batch_ids`` (the operator,
    whose input may have been split into several batches): once every batch has ended, ``{"status": "all_done",
    "batch_ids", "batches"}`` with the batches in the order of ``batch_ids``. Either way ``timeout`` past
    ``deadline``, or ``error``.

    :param batch_ids: every batch to wait for (``job_id`` is then the first of them).
    :param kwargs: as for :class:`~airflow_provider_openai_fusion.triggers._base.JobTrigger`.
    """

    kind = BATCHES

    def __init__(self, *, batch_ids: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_ids = list(batch_ids) if batch_ids else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        path, kwargs = super().serialize()
        return path, {**kwargs, "batch_ids": self.batch_ids}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        if not self.batch_ids:
            async for event in super().run():
                yield event
            return
        batches: list[dict[str, Any]] = []
        try:
            for batch_id in self.batch_ids:
                watch = Watch(self.kind, batch_id, self.log)
                batches.append(await adrive(watch.until_done(self.poll_interval, self.deadline), self.hook.arequest))
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
            await self.hook.aclose()
        statuses = [batch.get("status") for batch in batches]
        done: dict[str, Any] = {"status": ALL_DONE, "job_id": self.job_id, "batch_ids": self.batch_ids}
        yield TriggerEvent(bounded_event({**done, "statuses": statuses}, type(self).__name__))

    async def _cancel(self) -> None:
        """Cancel every batch still running (at the deadline, or when a user kills the deferred task)."""
        for batch_id in self.batch_ids or [self.job_id]:
            batch = await self.hook.arequest(self.kind.retrieve(batch_id))
            if batch.get("status") not in self.kind.terminal:
                batch = await self.hook.arequest(self.kind.cancel(batch_id))
            self.log.info("Batch %s is %s", batch_id, batch.get("status"))

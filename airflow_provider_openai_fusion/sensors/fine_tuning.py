"""The sensor that waits for a fine-tuning job to end."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.links import FineTuningJobLink
from airflow_provider_openai_fusion.operators._base import DEFAULT_CONN_ID, choice

if TYPE_CHECKING:
    from airflow_provider_openai_fusion._fine_tuning import JobWatch
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

ON_CANCELLED = ("fail", "skip")


class OpenAIFineTuningJobSensor(BaseSensorOperator):
    """
    Wait for a fine-tuning job to end, writing each new job event (level, message, metrics) to the task log.

    ``succeeded``: the task succeeds and returns the job (with ``fine_tuned_model``). ``failed``: the task fails
    with the job's error code, message and param. ``cancelled``: the task fails, or is skipped with
    ``on_cancelled="skip"``. Transient API errors (429, 5xx, timeouts) only delay the next poke.

    :param job_id: the fine-tuning job id. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :param on_cancelled: ``fail`` (default) or ``skip`` when the job was cancelled.
    :param deferrable: check once, then wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poke_interval: seconds between checks (also the trigger's poll interval).
    :param timeout: seconds before the sensor gives up.
    :param mode: ``poke`` or ``reschedule``, as for any sensor.
    :return: the finished job.
    """

    template_fields: Sequence[str] = ("job_id", "conn_id")
    operator_extra_links = (FineTuningJobLink(),)
    ui_color = "#d5f5e3"

    def __init__(
        self,
        *,
        job_id: str,
        conn_id: str = DEFAULT_CONN_ID,
        on_cancelled: str = "fail",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: timedelta | float = 30,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.conn_id = conn_id
        self.on_cancelled = on_cancelled
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> OpenAIFusionHook:
        """The hook of ``conn_id``, created on first use."""
        from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

        return OpenAIFusionHook(conn_id=self.conn_id)

    @cached_property
    def _watch(self) -> JobWatch:
        from airflow_provider_openai_fusion._fine_tuning import JobWatch

        return JobWatch(self._checked_job_id())

    def _checked_job_id(self) -> str:
        choice("on_cancelled", self.on_cancelled, ON_CANCELLED)
        if not isinstance(self.job_id, str) or not self.job_id.strip():
            raise InvalidArgumentError("job_id", f"must be a fine-tuning job id such as ftjob-..., got {self.job_id!r}")
        return self.job_id.strip()

    def execute(self, context: Context) -> Any:
        from airflow_provider_openai_fusion.links import remember_job

        self._checked_job_id()
        remember_job(context, self.hook.settings.base_url, self.job_id)
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done:
            return done.xcom_value
        from airflow_provider_openai_fusion.triggers.fine_tuning import OpenAIFineTuningJobTrigger

        trigger = OpenAIFineTuningJobTrigger(
            job_id=self._watch.job_id,
            conn_id=self.conn_id,
            poll_interval=self.poke_interval,
            deadline=time.time() + self.timeout,
            last_event_id=self._watch.last_event_id,
        )
        self.defer(trigger=trigger, method_name="execute_complete")

    def poke(self, context: Context) -> PokeReturnValue | bool:
        from airflow_provider_openai_fusion._fine_tuning import drive, event_for, finish, is_transient, log_events

        watch = self._watch
        try:
            job, events = drive(watch.poll(), self.hook.request)
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.log.warning(
                "Checking fine-tuning job %s failed (%s); trying again at the next poke", watch.job_id, exc
            )
            return False
        log_events(self.log, watch.job_id, events)
        self.log.info("Fine-tuning job %s is %s", watch.job_id, job.get("status"))
        event = event_for(job)
        if event is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=finish(event, self.on_cancelled))

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """
        Resume after the trigger: return the job if it succeeded, else fail (or skip) the task.

        :param context: the task's context.
        :param event: the trigger's event.
        """
        from airflow_provider_openai_fusion._fine_tuning import finish

        job = finish(event, self.on_cancelled)
        self.log.info("Fine-tuning job %s succeeded: model %s", job.get("id"), job.get("fine_tuned_model"))
        return job

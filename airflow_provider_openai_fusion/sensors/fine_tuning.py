"""The sensor that waits for a fine-tuning job to end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_openai_fusion import wait_defaults
from airflow_provider_openai_fusion.links import FineTuningJobLink
from airflow_provider_openai_fusion.sensors._base import JobSensor

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_openai_fusion._waiting import JobKind
    from airflow_provider_openai_fusion.triggers._base import JobTrigger


class OpenAIFineTuningJobSensor(JobSensor):
    """
    Wait for a fine-tuning job to end, writing each new job event (level, message, metrics) to the task log.

    ``succeeded``: the task succeeds and returns the job (with ``fine_tuned_model``). ``failed``: the task fails
    with the job's error code, message and param. ``cancelled``: the task fails, or is skipped with
    ``on_cancelled="skip"``. Arguments as for :class:`~airflow_provider_openai_fusion.sensors._base.JobSensor`;
    ``timeout`` defaults to 48 hours.
    """

    operator_extra_links = (FineTuningJobLink(),)
    id_example = "a fine-tuning job id such as ftjob-..."
    default_timeout = wait_defaults.FINE_TUNING_JOB_TIMEOUT

    @property
    def kind(self) -> JobKind:
        from airflow_provider_openai_fusion.api.fine_tuning import FINE_TUNING_JOBS

        return FINE_TUNING_JOBS

    def trigger(self, **kwargs: Any) -> JobTrigger:
        from airflow_provider_openai_fusion.triggers.fine_tuning import OpenAIFineTuningJobTrigger

        return OpenAIFineTuningJobTrigger(**kwargs)

    def execute(self, context: Context) -> Any:
        from airflow_provider_openai_fusion.links import remember_job

        remember_job(context, self.hook.settings.base_url, self._checked_job_id())
        return super().execute(context)

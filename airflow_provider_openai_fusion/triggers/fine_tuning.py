"""The trigger that waits for a fine-tuning job in the triggerer."""

from __future__ import annotations

from airflow_provider_openai_fusion.api.fine_tuning import FINE_TUNING_JOBS
from airflow_provider_openai_fusion.triggers._base import JobTrigger


class OpenAIFineTuningJobTrigger(JobTrigger):
    """
    Poll a fine-tuning job until it ends, writing each new job event to the log, oldest first; then yield one
    event: ``succeeded``/``failed``/``cancelled`` with the job, ``timeout`` past ``deadline``, or ``error``.
    The cursor is the newest job event already logged. Arguments as for
    :class:`~airflow_provider_openai_fusion.triggers._base.JobTrigger`.
    """

    kind = FINE_TUNING_JOBS

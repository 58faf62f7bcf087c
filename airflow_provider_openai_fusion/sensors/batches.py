"""The sensor that waits for a batch to end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_openai_fusion import wait_defaults
from airflow_provider_openai_fusion.sensors._base import JobSensor

if TYPE_CHECKING:
    from airflow_provider_openai_fusion._waiting import JobKind
    from airflow_provider_openai_fusion.triggers._base import JobTrigger


class OpenAIBatchSensor(JobSensor):
    """
    Wait for a batch (submitted elsewhere) to end, writing its request counts to the task log.

    ``completed``: the task succeeds and returns the batch (with ``output_file_id`` and ``error_file_id``).
    ``failed``: the task fails with the batch's validation errors (line, message, code). ``expired``: the task
    fails. ``cancelled``: the task fails, or is skipped with ``on_cancelled="skip"``.

    :param batch_id: the batch id, e.g. ``batch_...``. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :param on_cancelled: ``fail`` (default) or ``skip`` when the batch was cancelled.
    :param deferrable: check once, then wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poke_interval: seconds between checks (also the trigger's poll interval).
    :param timeout: seconds before the sensor gives up, failing with the batch's last status (default: the
        completion window plus an hour, 25 hours).
    :param mode: ``poke`` or ``reschedule``, as for any sensor.
    :return: the finished batch.
    """

    template_fields: Sequence[str] = ("batch_id", "conn_id")
    id_example = "a batch id such as batch_..."
    default_timeout = wait_defaults.BATCH_TIMEOUT

    def __init__(self, *, batch_id: str, **kwargs: Any) -> None:
        super().__init__(job_id=batch_id, **kwargs)

    @property
    def batch_id(self) -> str:
        """The batch id (the base sensor's ``job_id``)."""
        return self.job_id

    @batch_id.setter
    def batch_id(self, value: str) -> None:
        self.job_id = value

    def _checked_job_id(self) -> str:
        from airflow_provider_openai_fusion.api._base import choice, identifier

        choice("on_cancelled", self.on_cancelled, ("fail", "skip"))
        return identifier("batch_id", self.batch_id, self.id_example)

    @property
    def kind(self) -> JobKind:
        from airflow_provider_openai_fusion.api.batches import BATCHES

        return BATCHES

    def trigger(self, **kwargs: Any) -> JobTrigger:
        from airflow_provider_openai_fusion.triggers.batches import OpenAIBatchTrigger

        return OpenAIBatchTrigger(**kwargs)

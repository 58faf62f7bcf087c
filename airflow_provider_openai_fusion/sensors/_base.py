"""The sensor every long-running job is waited for with: one look per poke, or deferral to the area's trigger."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf

from airflow_provider_openai_fusion._bounds import bounded_xcom

if TYPE_CHECKING:
    from airflow_provider_openai_fusion._waiting import JobKind, Watch
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
    from airflow_provider_openai_fusion.triggers._base import JobTrigger

ON_CANCELLED = ("fail", "skip")


class JobSensor(BaseSensorOperator):
    """
    Wait for a job to end, writing its progress to the task log. Transient API errors (429, 5xx, timeouts) only
    delay the next poke, up to ten in a row. Subclasses name the job kind and its trigger.

    :param job_id: the job id. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :param on_cancelled: ``fail`` (default) or ``skip`` when the job was cancelled.
    :param deferrable: check once, then wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poke_interval: seconds between checks (also the trigger's poll interval).
    :param timeout: seconds before the sensor gives up, failing with the job's last status, in every mode
        (default: the kind's :attr:`default_timeout`, from what the API promises, instead of Airflow's 7 days).
    :param mode: ``poke`` or ``reschedule``, as for any sensor.
    :return: the finished job.
    """

    template_fields: Sequence[str] = ("job_id", "conn_id")
    ui_color = "#d5f5e3"
    id_example: ClassVar[str] = "a job id"
    default_timeout: ClassVar[float] = 24 * 3600.0

    def __init__(
        self,
        *,
        job_id: str,
        conn_id: str = "openai_fusion_default",
        on_cancelled: str = "fail",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: timedelta | float = 30,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("timeout", self.default_timeout)
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.conn_id = conn_id
        self.on_cancelled = on_cancelled
        self.deferrable = deferrable

    @property
    def kind(self) -> JobKind:
        """The kind of job this sensor waits for."""
        raise NotImplementedError

    def trigger(self, **kwargs: Any) -> JobTrigger:
        """
        The trigger that waits in the triggerer.

        :param kwargs: the trigger's arguments.
        """
        raise NotImplementedError

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """
        OpenLineage: what the job read and made as its looks showed it (a training or input file; a fine-tuned
        model), and the ``openai_fusion`` run facet. Called by ``apache-airflow-providers-openlineage`` when installed.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_openai_fusion.operators._base import task_lineage

        return task_lineage(self, task_instance, written=True)

    @cached_property
    def hook(self) -> OpenAIFusionHook:
        """The hook of ``conn_id``, created on first use."""
        from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

        return OpenAIFusionHook(conn_id=self.conn_id)

    @cached_property
    def _watch(self) -> Watch:
        from airflow_provider_openai_fusion._waiting import Watch

        return Watch(self.kind, self._checked_job_id(), self.log)

    def _checked_job_id(self) -> str:
        from airflow_provider_openai_fusion.api._base import choice, identifier

        choice("on_cancelled", self.on_cancelled, ON_CANCELLED)
        return identifier("job_id", self.job_id, self.id_example)

    def execute(self, context: Context) -> Any:
        from airflow.sdk.exceptions import AirflowSensorTimeout

        vars(self).pop("_watch", None)  # a try follows the job_id rendered for it, with its own error count
        self._checked_job_id()
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as exc:
                raise AirflowSensorTimeout(
                    f"{exc} {self.kind.noun} {self.job_id}: {self._watch.last_status()}"
                ) from None
        done = self.poke(context)
        if isinstance(done, PokeReturnValue) and done:
            return done.xcom_value
        trigger = self.trigger(
            job_id=self._watch.job_id,
            conn_id=self.conn_id,
            poll_interval=self.poke_interval,
            deadline=time.time() + self.timeout,
            cursor=self._watch.cursor,
        )
        self.defer(trigger=trigger, method_name="execute_complete")

    def poke(self, context: Context) -> PokeReturnValue | bool:
        from airflow_provider_openai_fusion._waiting import drive, event_for, finish

        job = drive(self._watch.look(), self.hook.request)
        if not self._watch.done(job):
            return False
        result = finish(self.kind, event_for(self.kind, job), self.on_cancelled)
        what = f"{type(self).__name__} {self.task_id!r}"
        return PokeReturnValue(is_done=True, xcom_value=bounded_xcom(result, what, has_output_path=False))

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """
        Resume after the trigger: return the job if it succeeded, else fail (or skip) the task.

        :param context: the task's context.
        :param event: the trigger's event.
        """
        from airflow_provider_openai_fusion._waiting import finish, resumed

        result = finish(self.kind, resumed(self.kind, event, self.hook.request), self.on_cancelled)
        self.log.info("%s %s finished", self.kind.noun.capitalize(), self.job_id)
        return bounded_xcom(result, f"{type(self).__name__} {self.task_id!r}", has_output_path=False)

"""Fusion's "Manage fine-tunes" module."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import Context, conf

from airflow_provider_openai_fusion.exceptions import (
    APIStatusError,
    BadRequestError,
    InvalidArgumentError,
    PermissionDeniedError,
)
from airflow_provider_openai_fusion.links import FineTuningJobLink
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

if TYPE_CHECKING:
    from airflow_provider_openai_fusion._waiting import Watch

ACTIONS = ("create", "get", "list", "cancel", "list_events", "delete_model")
_ARGUMENTS = ("training_file", "validation_file", "model", "method", "suffix", "seed", "job_id", "limit", "advanced")
_USED_BY = {
    "create": {"training_file", "validation_file", "model", "method", "suffix", "seed", "advanced"},
    "get": {"job_id"},
    "list": {"limit"},
    "cancel": {"job_id"},
    "list_events": {"job_id", "limit"},
    "delete_model": {"model"},
}
# Metadata that ties a job to the task instance that created it, so that a retry finds it again.
TI_METADATA_KEYS = ("airflow_dag_id", "airflow_task_id", "airflow_run_id", "airflow_map_index")
_RUNNING_STATUSES = ("validating_files", "queued", "running", "paused")
_REUSABLE_STATUSES = (*_RUNNING_STATUSES, "succeeded")
# The task_state_store key (Airflow >= 3.3) holding the job this task instance created and its request's hash.
STATE_KEY = "openai_fusion_fine_tuning_job"
# The request fields a job shows back, compared on Airflow 3.2 before re-attaching to a job found by metadata.
_SHOWN_FIELDS = ("model", "training_file", "validation_file", "method", "seed", "hyperparameters")
_FINE_TUNING = re.compile(r"fine[- ]?tun", re.IGNORECASE)
_NO_ACCESS = re.compile(r"access|eligib|not available|no longer|not allowed|permission", re.IGNORECASE)


def eligibility_refusal(error: APIStatusError) -> APIStatusError | None:
    """
    The same error with a clear message when ``error`` is OpenAI refusing the organization new fine-tuning jobs
    (a 403, or a 400 about fine-tuning access that blames no parameter); ``None`` for any other error.

    :param error: the error answer to creating a job.
    """
    about_access = _FINE_TUNING.search(error.message) and _NO_ACCESS.search(error.message)
    if not (isinstance(error, PermissionDeniedError) or (isinstance(error, BadRequestError) and about_access)):
        return None
    if isinstance(error, BadRequestError) and error.param:
        return None
    message = (
        "OpenAI refused to create the fine-tuning job: this organization or project may not start new fine-tuning "
        "jobs (self-serve fine-tuning has been restricted since 2026-05-07 and 2026-07-02, and new jobs end on "
        f"2027-01-06). OpenAI said: {error.message}"
    )
    return type(error)(
        message,
        status_code=error.status_code,
        error_type=error.type,
        code=error.code,
        param=error.param,
        request_id=error.request_id,
    )


class OpenAIManageFineTunesOperator(OpenAIFusionBaseOperator):
    """
    Create, inspect, list or cancel fine-tuning jobs, list a job's events, or delete a fine-tuned model.

    ``create`` tags the job with metadata naming the task instance (``airflow_dag_id``, ``airflow_task_id``,
    ``airflow_run_id``, ``airflow_map_index``) and records its id in the task instance's ``task_state_store``
    (Airflow 3.3+) as soon as it exists. A retry with the same request re-attaches to that job (unless it failed
    or was cancelled) instead of training twice; it never adopts a job it did not record. On Airflow 3.2 (no task
    state store) a retry looks the job up by its metadata and re-attaches only to one made from the same request
    (model, training and validation files, method and hyperparameters, seed) created since the DAG run started.
    A retry whose request changed (Airflow 3.3+) cancels the job it recorded, if still running and
    ``cancel_on_kill`` is set, before creating the new one.

    :param action: ``create``, ``get``, ``list``, ``cancel``, ``list_events`` or ``delete_model``. (templated)
    :param training_file: the uploaded training file id, for ``create``. (templated)
    :param validation_file: the uploaded validation file id, for ``create``. (templated)
    :param model: the base model, for ``create``; the fine-tuned model, for ``delete_model``. (templated)
    :param method: the training method, e.g. ``{"type": "supervised", "supervised": {"hyperparameters":
        {"n_epochs": 3}}}``, for ``create``. (templated)
    :param suffix: up to 64 characters added to the fine-tuned model's name, for ``create``. (templated)
    :param seed: the training seed, for ``create``.
    :param job_id: the job id, for ``get``, ``cancel`` and ``list_events``. (templated)
    :param limit: return at most this many jobs (``list``) or events (``list_events``).
    :param wait_for_completion: with ``create``, wait until the job ends: succeed with the finished job, fail
        with the job's error, as :class:`~airflow_provider_openai_fusion.sensors.OpenAIFineTuningJobSensor` does.
    :param deferrable: wait in the triggerer instead of a worker slot (default: ``[operators]
        default_deferrable``).
    :param poll_interval: seconds between checks while waiting. The wait gives up after the task's
        ``execution_timeout``, else after 48 hours, failing with the job's last status.
    :param cancel_on_kill: cancel the job when the task is killed while waiting, or at the deadline, or when a
        retry finds the request changed.
    :param advanced: other request fields (``metadata``, ``integrations``, ...), merged into the body of
        ``create``. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``create``/``get``/``cancel``: the job; ``list``: a list of jobs, newest first; ``list_events``: a list
        of events, oldest first; ``delete_model``: the deletion object.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "action",
        "training_file",
        "validation_file",
        "model",
        "method",
        "suffix",
        "job_id",
        "advanced",
    )
    template_fields_renderers = {"method": "json", "advanced": "json"}
    operator_extra_links = (FineTuningJobLink(),)

    def __init__(
        self,
        *,
        action: str,
        training_file: str | None = None,
        validation_file: str | None = None,
        model: str | None = None,
        method: dict[str, Any] | None = None,
        suffix: str | None = None,
        seed: int | None = None,
        job_id: str | None = None,
        limit: int | None = None,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        cancel_on_kill: bool = True,
        advanced: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.training_file = training_file
        self.validation_file = validation_file
        self.model = model
        self.method = method
        self.suffix = suffix
        self.seed = seed
        self.job_id = job_id
        self.limit = limit
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.cancel_on_kill = cancel_on_kill
        self.advanced = advanced
        self._job_id: str | None = None

    def execute(self, context: Context) -> Any:
        from airflow_provider_openai_fusion.api import fine_tuning, models
        from airflow_provider_openai_fusion.links import remember_job

        self._job_id = None
        action = self._check_arguments()
        remember_job(context, self.hook.settings.base_url, None)
        if action == "create":
            return self._create(context)
        if action == "get":
            job = self.hook.request(fine_tuning.retrieve_job(str(self.job_id)))
            self._remember(context, job)
            self.log.info("Fine-tuning job %s is %s", job.get("id"), job.get("status"))
            return job
        if action == "cancel":
            job = self.hook.request(fine_tuning.cancel_job(str(self.job_id)))
            self._remember(context, job)
            self.log.info("Cancelled fine-tuning job %s: status %s", job.get("id"), job.get("status"))
            return job
        if action == "list":
            jobs = self.hook.paginate(fine_tuning.list_jobs(), self.limit)
            self.log.info("%d fine-tuning jobs: %s", len(jobs), ", ".join(f"{j.get('id')}" for j in jobs[:20]))
            return jobs
        if action == "list_events":
            events = self.hook.paginate(fine_tuning.list_events(str(self.job_id)), self.limit)
            events.reverse()
            self.log.info("%d events of fine-tuning job %s", len(events), self.job_id)
            return events
        deleted = self.hook.request(models.delete_model(str(self.model)))
        self.log.info("Deleted model %s: %s", deleted.get("id"), deleted.get("deleted"))
        return deleted

    def _check_arguments(self) -> str:
        from airflow_provider_openai_fusion.api._base import choice, identifier, positive_int, positive_number, required

        action = choice("action", self.action, ACTIONS)
        for name in _ARGUMENTS:
            if getattr(self, name) is not None and name not in _USED_BY[action]:
                raise InvalidArgumentError(name, f"does not apply to action={action!r}")
        if self.wait_for_completion and action != "create":
            raise InvalidArgumentError("wait_for_completion", f"applies to action='create' only, not {action!r}")
        if action in ("get", "cancel", "list_events"):
            required("job_id", self.job_id, f"action={action!r}")
            self.job_id = identifier("job_id", self.job_id, "a fine-tuning job id such as ftjob-...")
        if action == "delete_model":
            self.model = identifier("model", required("model", self.model, "action='delete_model'"), "a model id")
        self.limit = positive_int("limit", self.limit)
        self.poll_interval = positive_number("poll_interval", self.poll_interval)
        return action

    def _create_body(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import json_object, request_body, required
        from airflow_provider_openai_fusion.api.fine_tuning import CreateFineTuningJobRequest

        required("training_file", self.training_file, "action='create'")
        required("model", self.model, "action='create'")
        advanced = json_object(self.advanced, "advanced") or {}
        metadata = json_object(advanced.pop("metadata", None), "advanced.metadata") or {}
        if clashes := sorted(set(metadata) & set(TI_METADATA_KEYS)):
            raise InvalidArgumentError("advanced.metadata", f"sets {clashes[0]!r}, which the operator sets itself")
        named = {
            "model": self.model,
            "training_file": self.training_file,
            "validation_file": self.validation_file,
            "method": json_object(self.method, "method"),
            "suffix": self.suffix,
            "seed": self.seed,
            "metadata": {**metadata, **ti_metadata(context)},
        }
        return request_body(CreateFineTuningJobRequest, named, advanced)

    def _create(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api.fine_tuning import create_job
        from airflow_provider_openai_fusion.model_lifecycle import check_fine_tuning
        from airflow_provider_openai_fusion.operators._ownership import fingerprint, record

        body = self._create_body(context)
        notice = check_fine_tuning(base_url=self.hook.settings.base_url, model=body["model"])
        if notice:
            self.log.warning("%s", notice)
        self.check_model(body["model"])
        job = self._earlier_job(context, body)
        if job is None:
            try:
                job = self.hook.request(create_job(body))
            except (PermissionDeniedError, BadRequestError) as error:
                clear = eligibility_refusal(error)
                if clear is None:
                    raise
                raise clear from None
            record(context, STATE_KEY, {"id": job.get("id"), "request": fingerprint(body)})
            self.log.info("Created fine-tuning job %s (status %s)", job.get("id"), job.get("status"))
        self._remember(context, job)
        if not self.wait_for_completion:
            return job
        return self._wait(context, job)

    def _earlier_job(self, context: Context, body: dict[str, Any]) -> dict[str, Any] | None:
        """
        The job an earlier try of this task instance created for the same request, unless it failed or was
        cancelled: the one recorded in the task state store, or (Airflow 3.2) one found by metadata that was made
        from the same request since the DAG run started.
        """
        from airflow_provider_openai_fusion.api.fine_tuning import list_jobs, retrieve_job
        from airflow_provider_openai_fusion.exceptions import NotFoundError
        from airflow_provider_openai_fusion.operators._ownership import (
            created_since,
            fingerprint,
            recorded,
            run_start,
            same_request,
            state_store,
        )

        if state_store(context) is not None:
            saved = recorded(context, STATE_KEY)
            if not saved:
                return None
            if saved.get("request") != fingerprint(body):
                self._abandon(str(saved.get("id")))
                return None
            try:
                job = self.hook.request(retrieve_job(str(saved.get("id"))))
            except NotFoundError:
                return None
            if job.get("status") not in _REUSABLE_STATUSES:
                return None
            self.log.info("Re-attaching to fine-tuning job %s recorded by an earlier try", job.get("id"))
            return cast("dict[str, Any] | None", job)
        if context["ti"].try_number <= 1:
            return None
        tags = {key: body["metadata"][key] for key in TI_METADATA_KEYS}
        request = {key: body[key] for key in _SHOWN_FIELDS if key in body}
        start = run_start(context)
        for job in self.hook.paginate(list_jobs(tags)):
            if (
                job.get("status") in _REUSABLE_STATUSES
                and all((job.get("metadata") or {}).get(k) == v for k, v in tags.items())
                and same_request(request, job)
                and created_since(job, start)
            ):
                self.log.info("Re-attaching to fine-tuning job %s created by an earlier try", job.get("id"))
                return job
        return None

    def _abandon(self, job_id: str) -> None:
        """
        The job an earlier try of this task instance created and recorded, for a request that has changed since: no
        task will wait for it again, so it is cancelled when ``cancel_on_kill`` is set (else it would go on training,
        and billing, unseen) and named in the log either way.

        :param job_id: the recorded job's id.
        """
        from airflow_provider_openai_fusion.api.fine_tuning import cancel_job, retrieve_job
        from airflow_provider_openai_fusion.exceptions import NotFoundError

        try:
            job = self.hook.request(retrieve_job(job_id))
        except NotFoundError:
            return
        status = job.get("status")
        if status not in _RUNNING_STATUSES:
            return
        if not self.cancel_on_kill:
            self.log.warning(
                "The request changed since an earlier try; its fine-tuning job %s (%s) is left running, since "
                "cancel_on_kill is off",
                job_id,
                status,
            )
            return
        cancelled = self.hook.request(cancel_job(job_id))
        self.log.warning(
            "The request changed since an earlier try: cancelled its fine-tuning job %s (was %s, now %s) before "
            "creating a new one",
            job_id,
            status,
            cancelled.get("status"),
        )

    def _remember(self, context: Context, job: dict[str, Any]) -> None:
        from airflow_provider_openai_fusion.links import remember_job

        self._job_id = job.get("id")
        remember_job(context, self.hook.settings.base_url, self._job_id)

    def _wait(self, context: Context, job: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_openai_fusion._waiting import (
            Watch,
            cancelled_at_deadline,
            drive,
            event_for,
            finish,
            wait_deadline,
        )
        from airflow_provider_openai_fusion.api.fine_tuning import FINE_TUNING_JOBS

        deadline = wait_deadline(None, self.execution_timeout, FINE_TUNING_JOBS.default_timeout)
        watch = Watch(FINE_TUNING_JOBS, str(job.get("id")), self.log)
        if self.deferrable:
            job = drive(watch.look(), self.hook.request)
            if not watch.done(job):
                self._defer(deadline, watch)
        else:
            with cancelled_at_deadline(self.on_kill, self.log):
                job = drive(watch.until_done(self.poll_interval, deadline), self.hook.request)
        job = finish(watch.kind, event_for(watch.kind, job))
        self.log_usage(job, job.get("model"))
        return job

    def _defer(self, deadline: float, watch: Watch) -> None:
        from airflow_provider_openai_fusion.triggers.fine_tuning import OpenAIFineTuningJobTrigger

        trigger = OpenAIFineTuningJobTrigger(
            job_id=watch.job_id,
            conn_id=self.conn_id,
            poll_interval=self.poll_interval,
            deadline=deadline,
            cursor=watch.cursor,
            cancel_on_kill=self.cancel_on_kill,
        )
        self.defer(trigger=trigger, method_name="execute_complete")

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """
        Resume after the trigger: return the job if it succeeded, else fail the task with the job's error.

        :param context: the task's context.
        :param event: the trigger's event.
        """
        from airflow_provider_openai_fusion._waiting import finish, resumed
        from airflow_provider_openai_fusion.api.fine_tuning import FINE_TUNING_JOBS

        job = finish(FINE_TUNING_JOBS, resumed(FINE_TUNING_JOBS, event, self.hook.request))
        self.log.info("Fine-tuning job %s succeeded: model %s", job.get("id"), job.get("fine_tuned_model"))
        self.log_usage(job, job.get("model"))
        return cast("dict[str, Any]", job)

    def on_kill(self) -> None:
        """Cancel the job this task is waiting for, when ``cancel_on_kill`` is set."""
        from airflow_provider_openai_fusion.api.fine_tuning import cancel_job

        if self.cancel_on_kill and self.wait_for_completion and self._job_id:
            job = self.hook.request(cancel_job(self._job_id))
            self.log.info("Cancelled fine-tuning job %s (status %s)", self._job_id, job.get("status"))


def ti_metadata(context: Context) -> dict[str, str]:
    """
    The job metadata naming the task instance: DAG, task, run and map index.

    :param context: the task's context.
    """
    ti = context["ti"]
    values = (ti.dag_id, ti.task_id, ti.run_id, ti.map_index)
    return {key: str(value) for key, value in zip(TI_METADATA_KEYS, values, strict=True)}

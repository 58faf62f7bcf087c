"""The Fine-tuning API: jobs, their events, and how to wait for one (its ``JobKind``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from airflow_provider_openai_fusion import wait_defaults
from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion._waiting import JobKind, Look
from airflow_provider_openai_fusion.api._base import Metadata, RequestModel, ResponseModel, segment
from airflow_provider_openai_fusion.exceptions import FineTuningJobError

EVENTS_PAGE_SIZE = 100
MAX_EVENT_PAGES = 50

FileId = Annotated[str, Field(min_length=1)]


class FineTuneMethod(RequestModel):
    """The training method: ``{"type": "supervised", "supervised": {"hyperparameters": {...}}}`` and the like."""

    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: dict[str, Any] | None = None
    dpo: dict[str, Any] | None = None
    reinforcement: dict[str, Any] | None = None


class CreateFineTuningJobRequest(RequestModel):
    """The body of POST /fine_tuning/jobs."""

    model: Annotated[str, Field(min_length=1)]
    training_file: FileId
    validation_file: FileId | None = None
    method: FineTuneMethod | None = None
    suffix: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    seed: Annotated[int, Field(ge=0, le=2_147_483_647)] | None = None
    hyperparameters: dict[str, Any] | None = None
    integrations: list[dict[str, Any]] | None = None
    metadata: Metadata | None = None


class FineTuningJob(ResponseModel):
    """A fine-tuning job; ``status`` is kept as text, so a status added later (``paused``) passes."""

    id: str
    status: str
    fine_tuned_model: str | None = None
    error: dict[str, Any] | None = None


class FineTuningEvent(ResponseModel):
    """One event of a fine-tuning job."""

    id: str
    level: str | None = None
    message: str | None = None


def create_job(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /fine_tuning/jobs.

    :param body: the validated request body.
    """
    return RequestSpec("POST", "fine_tuning/jobs", json=dict(body), response=FineTuningJob)


def list_jobs(metadata: Mapping[str, str] | None = None) -> RequestSpec:
    """
    GET /fine_tuning/jobs (newest first).

    :param metadata: only jobs whose metadata has these keys and values.
    """
    params = {f"metadata[{key}]": value for key, value in (metadata or {}).items()}
    return RequestSpec("GET", "fine_tuning/jobs", params=params, response=FineTuningJob, listing=True)


def retrieve_job(job_id: str) -> RequestSpec:
    """
    GET /fine_tuning/jobs/{job_id}.

    :param job_id: the job id.
    """
    return RequestSpec("GET", f"fine_tuning/jobs/{segment(job_id)}", response=FineTuningJob)


def cancel_job(job_id: str) -> RequestSpec:
    """
    POST /fine_tuning/jobs/{job_id}/cancel.

    :param job_id: the job id.
    """
    return RequestSpec("POST", f"fine_tuning/jobs/{segment(job_id)}/cancel", response=FineTuningJob)


def list_events(job_id: str, after: str | None = None, limit: int | None = None) -> RequestSpec:
    """
    GET /fine_tuning/jobs/{job_id}/events (newest first, paging backwards with ``after``).

    :param job_id: the job id.
    :param after: only events older than this event id.
    :param limit: the page size.
    """
    return RequestSpec(
        "GET",
        f"fine_tuning/jobs/{segment(job_id)}/events",
        params={"after": after, "limit": limit},
        response=FineTuningEvent,
        listing=True,
    )


def format_event(event: Mapping[str, Any]) -> str:
    """
    One task-log line for a job event: level, message, and the metrics of ``metrics`` events.

    :param event: the event object.
    """
    line = f"[{event.get('level', 'info')}] {event.get('message', '')}"
    data = event.get("data")
    if event.get("type") == "metrics" and isinstance(data, Mapping) and data:
        line += " | " + ", ".join(f"{key}={value}" for key, value in data.items())
    return line


class FineTuningJobs(JobKind):
    """
    Fine-tuning jobs: a look fetches the job, then its events page by page (newest first, as the API lists
    them) down to the newest one already reported (the cursor), and reports the new ones oldest first.
    """

    noun = "fine-tuning job"
    terminal = ("succeeded", "failed", "cancelled")
    default_timeout = wait_defaults.FINE_TUNING_JOB_TIMEOUT

    def retrieve(self, job_id: str) -> RequestSpec:
        return retrieve_job(job_id)

    def cancel(self, job_id: str) -> RequestSpec:
        return cancel_job(job_id)

    def look(self, job_id: str, cursor: Any) -> Look:
        job = yield retrieve_job(job_id)
        fresh: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(MAX_EVENT_PAGES):
            page = yield list_events(job_id, after, EVENTS_PAGE_SIZE)
            data = [dict(event) for event in page.get("data") or [] if isinstance(event, Mapping)]
            ids = [event.get("id") for event in data]
            if cursor in ids:
                fresh += data[: ids.index(cursor)]
                break
            fresh += data
            if not page.get("has_more") or not data or ids[-1] == after:
                break
            after = ids[-1]
        fresh.reverse()
        levels = {"warn": "warning", "error": "error"}
        lines = [(levels.get(str(event.get("level")), "info"), format_event(event)) for event in fresh]
        return job, lines, (fresh[-1].get("id") if fresh else cursor)

    def outcome(self, job: Mapping[str, Any], on_cancelled: str) -> Any:
        from airflow.sdk.exceptions import AirflowSkipException

        if job["status"] == "succeeded":
            return dict(job)
        if job["status"] == "cancelled" and on_cancelled == "skip":
            raise AirflowSkipException(f"Fine-tuning job {job.get('id')} was cancelled")
        raise FineTuningJobError(str(job.get("id")), job["status"], job.get("error"))


FINE_TUNING_JOBS = FineTuningJobs()

"""
Stand-in routes: /fine_tuning/jobs (create, list with the metadata filter, retrieve, cancel, events).

A job moves validating_files -> queued -> running -> succeeded, spending ``State.job_step_seconds`` in each
status, and writes events as OpenAI does (messages, then ``metrics`` events while running); its events are
listed newest first and paged backwards with ``after``. A succeeded job registers its fine-tuned model
``ft:<base>:<org>:<suffix>:<id>`` so that /models lists it and DELETE /models/{model} deletes it.

How to make a job fail: a training file that is not JSON lines of chat examples, or has fewer than 10 of them,
fails at validation (``invalid_training_file`` / ``invalid_n_examples``, param ``training_file``); the suffix
``fail`` fails it at the end of training (``training_failed``).

How to be refused as OpenAI refuses an organization that may no longer fine-tune (restricted since 2026-05-07):
the suffix ``not-eligible`` gets a 403 about fine-tuning access, and no job.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin.common import State, error, json_body, new_id, not_found, now, ok, state_of
from dev.standin.webhooks import drive

ORGANIZATION = "org-standin"
FINE_TUNABLE = ("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", "gpt-3.5-turbo")
FINE_TUNABLE += ("babbage-002", "davinci-002", "gpt-5.6-luna", "gpt-oss-20b")
MIN_EXAMPLES = 10
TRAINING_STEPS = 3
FAIL_SUFFIX = "fail"
NOT_ELIGIBLE_SUFFIX = "not-eligible"
NOT_ELIGIBLE_MESSAGE = (
    "Your organization does not have access to self-serve fine-tuning. New fine-tuning jobs are limited to "
    "eligible organizations."
)
DEFAULT_LIMIT = 20


@dataclass
class Job:
    """
    One job: its fixed fields, and when it started and was cancelled (monotonic seconds).

    :param fields: the job object's fields that never change.
    :param started: when it was created.
    :param step: seconds per status.
    :param suffix: the suffix of the fine-tuned model's name.
    :param failure: the error it ends with, if it fails, and at which step (1: validation, 3: training).
    """

    fields: dict[str, Any]
    started: float
    step: float
    suffix: str | None = None
    failure: tuple[float, dict[str, Any]] | None = None
    cancelled_at: float | None = None
    timeline: list[tuple[float, str, str, str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        ends = self.failure[0] if self.failure else 3.0
        self._add(0.0, "info", "message", f"Validating training file: {self.fields['training_file']}")
        if self.failure and ends == 1.0:
            self._add(1.0, "error", "message", self.failure[1]["message"])
            return
        self._add(1.0, "info", "message", "Files validated, moving job to queued state")
        self._add(2.0, "info", "message", "Fine-tuning job started")
        for n in range(1, TRAINING_STEPS + 1):
            loss = round(2.0 / (n + 1), 4)
            metrics = {"step": n, "total_steps": TRAINING_STEPS, "train_loss": loss}
            metrics["train_mean_token_accuracy"] = round(0.5 + 0.1 * n, 4)
            message = f"Step {n}/{TRAINING_STEPS}: training loss={loss}"
            self._add(2.0 + n / (TRAINING_STEPS + 1), "info", "metrics", message, metrics)
        if self.failure:
            self._add(3.0, "error", "message", self.failure[1]["message"])
            return
        self._add(3.0, "info", "message", f"New fine-tuned model created: {self.model_name}")
        self._add(3.0, "info", "message", "The job has successfully completed")

    def _add(self, at: float, level: str, type_: str, message: str, data: dict[str, Any] | None = None) -> None:
        self.timeline.append((at, level, type_, message, data or {}))

    @property
    def model_name(self) -> str:
        """The fine-tuned model's id, as OpenAI names it."""
        return f"ft:{self.fields['model']}:{ORGANIZATION}:{self.suffix or ''}:{self.fields['id'][-8:]}"

    def elapsed_steps(self) -> float:
        """How many status steps have passed, stopping when the job was cancelled."""
        end = self.cancelled_at if self.cancelled_at is not None else time.monotonic()
        return (end - self.started) / self.step if self.step > 0 else float("inf")

    def status(self) -> str:
        """The job's status now."""
        steps = self.elapsed_steps()
        if self.failure and steps >= self.failure[0]:
            return "failed"
        if self.cancelled_at is not None:
            return "cancelled"
        return ("validating_files", "queued", "running", "succeeded")[min(int(steps), 3)]

    def events(self) -> list[dict[str, Any]]:
        """The events so far, newest first."""
        steps = self.elapsed_steps()
        created = self.fields["created_at"]
        events = [
            {
                "object": "fine_tuning.job.event",
                "id": f"ftevent-{self.fields['id'][6:]}{index:03d}",
                "created_at": created + int(at * self.step),
                "level": level,
                "message": message,
                "type": type_,
                "data": data,
            }
            for index, (at, level, type_, message, data) in enumerate(self.timeline)
            if at <= steps
        ]
        if self.cancelled_at is not None and self.status() == "cancelled":
            events.append(
                {
                    "object": "fine_tuning.job.event",
                    "id": f"ftevent-{self.fields['id'][6:]}999",
                    "created_at": created + int(steps * self.step),
                    "level": "info",
                    "message": "Fine-tuning job cancelled",
                    "type": "message",
                    "data": {},
                }
            )
        return events[::-1]

    def as_json(self, state: State) -> dict[str, Any]:
        """The job object now; a succeeded job's model is registered on the way."""
        status = self.status()
        job = {**self.fields, "status": status}
        if status in ("succeeded", "failed", "cancelled"):
            job["finished_at"] = self.fields["created_at"] + int(min(self.elapsed_steps(), 3.0) * self.step)
        if status == "failed":
            job["error"] = self.failure[1]
        if status == "succeeded":
            job["fine_tuned_model"] = self.model_name
            job["trained_tokens"] = 1200
            state.fine_tuned_models.setdefault(
                self.model_name,
                {"id": self.model_name, "object": "model", "created": job["finished_at"], "owned_by": ORGANIZATION},
            )
        return job


def _jobs(state: State) -> dict[str, Job]:
    return state.jobs  # type: ignore[return-value]


def _training_problem(state: State, file_id: str) -> dict[str, Any] | None:
    """Why the training file cannot be trained on, as the job's error, or ``None``."""
    lines = [line for line in state.contents.get(file_id, b"").decode("utf-8", "replace").splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        try:
            example = json.loads(line)
        except ValueError:
            example = None
        if not isinstance(example, dict) or not isinstance(example.get("messages"), list):
            message = f"Invalid file format. Line {number}: expected a JSON object with a 'messages' list."
            return {"code": "invalid_training_file", "message": message, "param": "training_file"}
    if len(lines) < MIN_EXAMPLES:
        message = f"Training file has {len(lines)} example(s), but must have at least {MIN_EXAMPLES} examples"
        return {"code": "invalid_n_examples", "message": message, "param": "training_file"}
    return None


def _check_file(state: State, file_id: Any, param: str) -> Response | None:
    file = state.files.get(file_id) if isinstance(file_id, str) else None
    if file is None:
        return error(400, f"invalid {param}: {file_id}", type_="invalid_request_error", param=param)
    if file.get("purpose") != "fine-tune":
        message = f"File {file_id} has purpose '{file.get('purpose')}'; fine-tuning needs purpose 'fine-tune'."
        return error(400, message, type_="invalid_request_error", param=param)
    return None


async def create_job(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    state = state_of(request)
    if body.get("suffix") == NOT_ELIGIBLE_SUFFIX:
        return error(403, NOT_ELIGIBLE_MESSAGE, type_="invalid_request_error", code="fine_tuning_not_available")
    if body.get("model") not in FINE_TUNABLE:
        message = f"Model {body.get('model')} is not available for fine-tuning or does not exist."
        return error(400, message, type_="invalid_request_error", code="model_not_available", param="model")
    for param in ("training_file", "validation_file"):
        if body.get(param) is not None and (problem := _check_file(state, body[param], param)):
            return problem
    job_id = new_id("ftjob-")
    hyperparameters = {"batch_size": "auto", "learning_rate_multiplier": "auto", "n_epochs": "auto"}
    fields = {
        "object": "fine_tuning.job",
        "id": job_id,
        "model": body["model"],
        "created_at": now(),
        "error": None,
        "fine_tuned_model": None,
        "finished_at": None,
        "hyperparameters": hyperparameters,
        "organization_id": ORGANIZATION,
        "result_files": [],
        "trained_tokens": None,
        "training_file": body["training_file"],
        "validation_file": body.get("validation_file"),
        "integrations": body.get("integrations"),
        "seed": body.get("seed") if body.get("seed") is not None else 42,
        "estimated_finish": None,
        "method": body.get("method") or {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
        "metadata": body.get("metadata"),
    }
    failure = None
    if problem := _training_problem(state, body["training_file"]):
        failure = (1.0, problem)
    elif body.get("suffix") == FAIL_SUFFIX:
        failure = (3.0, {"code": "training_failed", "message": "Training failed: loss diverged.", "param": None})
    job = Job(fields, time.monotonic(), state.job_step_seconds, body.get("suffix"), failure)
    _jobs(state)[job_id] = job
    if state.webhooks is not None:
        webhooks = state.webhooks

        async def advance() -> bool:
            status = job.status()
            if status in ("succeeded", "failed", "cancelled"):
                webhooks.notify(f"fine_tuning.job.{status}", job_id)
                return True
            return False

        drive(state.job_step_seconds / 2, advance)
    return ok(job.as_json(state))


def _page(items: list[dict[str, Any]], request: Request) -> Response:
    after = request.query_params.get("after")
    try:
        limit = int(request.query_params.get("limit", DEFAULT_LIMIT))
    except ValueError:
        return error(400, "limit must be an integer", type_="invalid_request_error", param="limit")
    ids = [item["id"] for item in items]
    start = ids.index(after) + 1 if after in ids else 0
    chunk = items[start : start + max(limit, 1)]
    return ok({"object": "list", "data": chunk, "has_more": start + len(chunk) < len(items)})


_METADATA_PARAM = re.compile(r"^metadata\[(.+)\]$")


async def list_jobs(request: Request) -> Response:
    state = state_of(request)
    wanted = {m.group(1): v for k, v in request.query_params.items() if (m := _METADATA_PARAM.match(k))}
    jobs = [job.as_json(state) for job in reversed(_jobs(state).values())]
    jobs = [job for job in jobs if all((job.get("metadata") or {}).get(k) == v for k, v in wanted.items())]
    return _page(jobs, request)


def _job_or_404(request: Request) -> Job | Response:
    job_id = request.path_params["job_id"]
    job = _jobs(state_of(request)).get(job_id)
    return job if job is not None else not_found("fine-tuning job", job_id, "fine_tuning_job_id")


async def retrieve_job(request: Request) -> Response:
    job = _job_or_404(request)
    return job if isinstance(job, Response) else ok(job.as_json(state_of(request)))


async def cancel_job(request: Request) -> Response:
    job = _job_or_404(request)
    if isinstance(job, Response):
        return job
    status = job.status()
    if status in ("succeeded", "failed", "cancelled"):
        message = f"Job {job.fields['id']} has already {'been ' if status == 'cancelled' else ''}{status}."
        return error(400, message, type_="invalid_request_error", param="fine_tuning_job_id")
    job.cancelled_at = time.monotonic()
    return ok(job.as_json(state_of(request)))


async def list_events(request: Request) -> Response:
    job = _job_or_404(request)
    if isinstance(job, Response):
        return job
    job.as_json(state_of(request))
    return _page(job.events(), request)


routes = [
    Route("/fine_tuning/jobs", create_job, methods=["POST"]),
    Route("/fine_tuning/jobs", list_jobs, methods=["GET"]),
    Route("/fine_tuning/jobs/{job_id}", retrieve_job, methods=["GET"]),
    Route("/fine_tuning/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
    Route("/fine_tuning/jobs/{job_id}/events", list_events, methods=["GET"]),
]

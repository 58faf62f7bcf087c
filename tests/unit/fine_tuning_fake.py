"""A scripted fine-tuning API for the unit tests: a MockTransport handler whose jobs move one status per look."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import httpx

PAGE_SIZE = 2
CREATED_AT = 2_000_000_000
RUN_START = datetime.fromtimestamp(CREATED_AT - 60, tz=timezone.utc)


@dataclass
class FakeFineTuningAPI:
    """
    Jobs whose status moves to the next of ``statuses`` at each GET of the job; each move adds an event (and a
    ``metrics`` event while running). Events are listed newest first, ``PAGE_SIZE`` per page, paged with
    ``after``. ``faults`` are status codes answered (in order) before the normal answers of the job's GETs.

    :param statuses: the statuses a job goes through.
    :param error: the ``error`` object of a failed job.
    :param faults: error statuses to answer first, one per request.
    :param faults_after_create: error statuses to answer, one per request, once a job was created.
    """

    statuses: tuple[str, ...] = ("validating_files", "queued", "running", "succeeded")
    error: dict[str, Any] | None = None
    faults: list[int] = field(default_factory=list)
    faults_after_create: list[int] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def add_job(self, job_id: str = "ftjob-1", metadata: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
        """A job in the first status (trained on ``file-1`` from ``gpt-4o-mini`` unless ``fields`` say else)."""
        job = {"object": "fine_tuning.job", "id": job_id, "status": self.statuses[0], "model": "gpt-4o-mini"}
        job.update({"fine_tuned_model": None, "error": None, "metadata": metadata, "training_file": "file-1"})
        job.update({"created_at": CREATED_AT, "validation_file": None, "seed": 7, **fields})
        self.jobs[job_id] = job
        self.events[job_id] = []
        self._event(job_id, f"Status: {job['status']}")
        return job

    def _event(self, job_id: str, message: str, **metrics: Any) -> None:
        number = len(self.events[job_id]) + 1
        event = {"object": "fine_tuning.job.event", "id": f"ev-{job_id}-{number}", "level": "info"}
        event.update({"message": message, "created_at": number, "type": "metrics" if metrics else "message"})
        event["data"] = metrics
        self.events[job_id].append(event)

    def _advance(self, job: dict[str, Any]) -> None:
        if job["status"] not in self.statuses:
            return
        position = self.statuses.index(job["status"])
        if position + 1 < len(self.statuses):
            job["status"] = self.statuses[position + 1]
            if job["status"] == "running":
                self._event(job["id"], "Step 1/1: training loss=0.5", step=1, train_loss=0.5)
            self._event(job["id"], f"Status: {job['status']}")
            if job["status"] == "succeeded":
                job["fine_tuned_model"] = f"ft:gpt-4o-mini:org:x:{job['id']}"
            if job["status"] == "failed":
                job["error"] = self.error

    @property
    def posts(self) -> list[httpx.Request]:
        """The job creations received."""
        return [r for r in self.requests if r.method == "POST" and r.url.path.endswith("/fine_tuning/jobs")]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.faults:
            status = self.faults.pop(0)
            return httpx.Response(status, json={"error": {"message": f"fault {status}", "type": "server_error"}})
        parts = request.url.path.split("/fine_tuning/jobs")[1].strip("/").split("/")
        query = dict(parse_qsl(request.url.query.decode()))
        if request.method == "POST" and parts == [""]:
            body = json.loads(request.content)
            shown = {key: body[key] for key in ("model", "training_file", "validation_file", "method") if key in body}
            job = self.add_job(f"ftjob-{len(self.jobs) + 1}", body.get("metadata"), **shown)
            self.faults += self.faults_after_create
            return httpx.Response(200, json=job)
        if request.method == "GET" and parts == [""]:
            wanted = {k[len("metadata[") : -1]: v for k, v in query.items() if k.startswith("metadata[")}
            data = [j for j in self.jobs.values() if all((j["metadata"] or {}).get(k) == v for k, v in wanted.items())]
            return httpx.Response(200, json={"object": "list", "data": data[::-1], "has_more": False})
        job = self.jobs[parts[0]]
        if parts[1:] == ["cancel"]:
            job["status"] = "cancelled"
            return httpx.Response(200, json=job)
        if parts[1:] == ["events"]:
            newest_first = self.events[job["id"]][::-1]
            ids = [e["id"] for e in newest_first]
            start = ids.index(query["after"]) + 1 if "after" in query else 0
            page = newest_first[start : start + PAGE_SIZE]
            return httpx.Response(200, json={"object": "list", "data": page, "has_more": start + PAGE_SIZE < len(ids)})
        self._advance(job)
        return httpx.Response(200, json=job)


def context(
    try_number: int = 1, map_index: int = -1, store: Any = None, run_start: datetime | None = RUN_START
) -> dict[str, Any]:
    """
    A task context with the task-instance fields the fine-tuning code reads, the DAG run's start and (given
    ``store``) a task_state_store, as on Airflow 3.3.
    """
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(
        dag_id="ft_dag",
        task_id="create",
        run_id="manual__2026-01-01T00:00:00+00:00",
        map_index=map_index,
        try_number=try_number,
        pushed=pushed,
        xcom_push=lambda key, value: pushed.__setitem__(key, value),
    )
    found: dict[str, Any] = {"ti": ti, "dag_run": SimpleNamespace(start_date=run_start)}
    return {**found, "task_state_store": store} if store is not None else found

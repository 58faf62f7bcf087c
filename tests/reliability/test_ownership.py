"""
Ownership against a loopback server that holds other people's objects: the provider detaches, deletes and
re-attaches to only what it created and recorded. Each case counts the requests the server saw and the objects
they touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import (
    OpenAIBatchOperator,
    OpenAIManageFineTunesOperator,
    OpenAIManageVectorStoresOperator,
)
from tests.conftest import ROOT
from tests.reliability.fault_server import Behaviour, FaultServer, Request, json_reply
from tests.unit.responses_fake import StateStore
from tests.vector_stores_fake import OWNER, FakeVectorStores

ROWS = (
    "`sync` by name into a marked store that also holds another team's file and a file given by id in an earlier run",
    "`sync` by name into a store without the provider's mark in its metadata",
    "fine-tuning retry; a planted `succeeded` job with the task instance's metadata, trained on another file",
    "fine-tuning retry with a changed request; the job the first try recorded still running",
    "batch retry; a planted `completed` batch with the task instance's metadata and the same input digest",
    "batch retry on Airflow 3.2 (no task state store); the planted batch created before the DAG run started",
    "two tries on one batch operator instance, the second re-attaching",
    "vector-store `add_files` retry after the file batch's first look failed (400)",
)
RUN_START = datetime(2033, 5, 18, 3, 0, tzinfo=timezone.utc)
CREATED = int(RUN_START.timestamp()) + 60


def playing(fake: FakeVectorStores) -> Callable[[Request], Behaviour]:
    """The fault server's responder: ``fake`` answers every request."""

    def respond(request: Request) -> Behaviour:
        path = request.target.split("?", 1)[0].removeprefix("/v1/")
        status, payload = fake.answer(request.method, path, request.body)
        return json_reply(status, payload)

    return respond


def shared_store(fake: FakeVectorStores, tmp_path: Path, metadata: dict[str, str] | None) -> list[str]:
    """A store named ``docs`` shared with another team; one stale and one changed file are the provider's."""
    fake.add_store("vs_shared", "docs", metadata)
    fake.add_file("vs_shared", "file-ours-stale", {"filename": "old.md", "sha256": "h0", **OWNER})
    fake.add_file("vs_shared", "file-ours-a", {"filename": "a.md", "sha256": "h1", **OWNER})
    fake.add_file("vs_shared", "file-team-b", {"filename": "old.md", "sha256": "h0"})
    fake.add_file("vs_shared", "file-given-earlier")
    (tmp_path / "a.md").write_text("a, new version")
    return [str(tmp_path / "a.md")]


def sync(hook: OpenAIFusionHook, files: list[str], **kwargs: Any) -> Any:
    operator = OpenAIManageVectorStoresOperator(task_id="t", action="sync", files=files, poll_interval=0.01, **kwargs)
    operator.hook = hook
    try:
        return operator.execute({})
    finally:
        hook.close()


def test_sync_into_a_shared_store_deletes_only_its_own_files(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    fake = FakeVectorStores()
    files = shared_store(fake, tmp_path, OWNER)
    server.script(playing(fake))
    result = sync(hook_at(server.base_url), files, name="docs")

    assert fake.touched("file-team-b") == fake.touched("file-given-earlier") == []
    assert set(fake.files) >= {"file-team-b", "file-given-earlier"}
    assert sorted(call for call in fake.calls if call.startswith("DELETE")) == [
        "DELETE files/file-ours-a",
        "DELETE files/file-ours-stale",
        "DELETE vector_stores/vs_shared/files/file-ours-a",
        "DELETE vector_stores/vs_shared/files/file-ours-stale",
    ]
    assert server.attempts == len(fake.calls) == 9
    assert [item["file_id"] for item in result["unmanaged"]] == ["file-team-b", "file-given-earlier"]
    assert [item["replaced_file_id"] for item in result["changed"]] == ["file-ours-a"]


def test_sync_refuses_a_store_found_by_name_that_it_did_not_create(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    fake = FakeVectorStores()
    files = shared_store(fake, tmp_path, {"owner": "search-team"})
    server.script(playing(fake))
    with pytest.raises(InvalidArgumentError, match="vector store vs_shared named 'docs' was not created") as info:
        sync(hook_at(server.base_url), files, name="docs")
    assert info.value.argument == "name"
    assert [f"{r.method} {r.target}" for r in server.requests] == ["GET /v1/vector_stores?limit=100"]


def test_the_reliability_page_lists_every_ownership_case() -> None:
    """docs/reliability.md has a row for each case tested here, in the reliability matrix section."""
    page = (ROOT / "docs" / "reliability.md").read_text()
    section = page.split("## Reliability matrix", 1)[1].split("\n## ", 1)[0]
    assert [row for row in ROWS if f"| {row} |" not in section] == []


@dataclass
class JobsAndBatches:
    """Fine-tuning jobs and batches as a server holds them, with what someone else planted; answers by target."""

    jobs: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)

    def respond(self, request: Request) -> Behaviour:
        path = request.target.split("?", 1)[0].removeprefix("/v1/")
        if request.method == "POST" and path == "fine_tuning/jobs":
            body = request.json()
            job = {"object": "fine_tuning.job", "id": f"ftjob-{len(self.jobs) + 1}", "status": "validating_files"}
            self.jobs.append({**job, **body, "created_at": CREATED, "fine_tuned_model": None})
            return json_reply(200, self.jobs[-1])
        if request.method == "GET" and path == "fine_tuning/jobs":
            return json_reply(200, {"object": "list", "data": self.jobs[::-1], "has_more": False})
        if request.method == "POST" and path == "files":
            return json_reply(200, {"id": "file-input", "object": "file", "purpose": "batch", "bytes": 1})
        if request.method == "POST" and path == "batches":
            body = request.json()
            batch = {"object": "batch", "id": f"batch_{len(self.batches) + 1}", "status": "validating"}
            self.batches.append({**batch, **body, "endpoint": body["endpoint"], "created_at": CREATED})
            return json_reply(200, self.batches[-1])
        if request.method == "GET" and path == "batches":
            return json_reply(200, {"object": "list", "data": self.batches[::-1], "has_more": False})
        if request.method == "POST" and path.startswith("fine_tuning/jobs/") and path.endswith("/cancel"):
            job = next(job for job in self.jobs if job["id"] == path.split("/")[2])
            job["status"] = "cancelled"
            return json_reply(200, job)
        found = {item["id"]: item for item in [*self.jobs, *self.batches]}.get(path.rsplit("/", 1)[-1])
        return json_reply(200, found) if found else json_reply(404, {"error": {"message": "no such object"}})

    def plant(self, kind: str, like: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """Someone else's object copying ``like`` (its metadata, its digest), with ``fields`` changed."""
        items = self.jobs if kind == "job" else self.batches
        items.append({**like, "id": f"{like['id']}-planted", **fields})
        return items[-1]


def task_context(try_number: int, store: StateStore | None) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="scheduled__2033-05-18", map_index=-1, try_number=try_number)
    ti.xcom_push = lambda key, value: None
    found = {"ti": ti, "dag_run": SimpleNamespace(start_date=RUN_START)}
    return {**found, "task_state_store": store} if store is not None else found


def sent(server: FaultServer) -> list[str]:
    return [f"{r.method} {r.target.split('?', 1)[0].removeprefix('/v1/')}" for r in server.requests]


def run_task(operator: Any, hook: OpenAIFusionHook, context: dict[str, Any]) -> Any:
    operator.hook = hook
    try:
        return operator.execute(context)
    finally:
        hook.close()


@pytest.mark.parametrize("store", [StateStore, None], ids=["task state store", "metadata (Airflow 3.2)"])
def test_a_fine_tuning_retry_never_adopts_a_planted_job_trained_on_another_file(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], store: Any
) -> None:
    fake = JobsAndBatches()
    server.script(fake.respond)
    create = {"action": "create", "model": "gpt-4o-mini", "training_file": "file-fixed"}
    first = OpenAIManageFineTunesOperator(task_id="t", **{**create, "training_file": "file-broken"})
    shared = store() if store else None
    run_task(first, hook_at(server.base_url), task_context(1, shared))
    fake.plant("job", fake.jobs[0], status="succeeded", training_file="file-evil", fine_tuned_model="ft:evil")
    fake.jobs[0]["status"] = "failed"  # the broken data failed; the task is cleared and retried on fixed data
    server.script(fake.respond)
    job = run_task(
        OpenAIManageFineTunesOperator(task_id="t", **create), hook_at(server.base_url), task_context(2, shared)
    )
    assert job["id"] == "ftjob-3" and job["training_file"] == "file-fixed"
    if store:
        # the recorded job was for another request: one look at it (failed: left alone), none at the planted one
        assert sent(server) == ["GET fine_tuning/jobs/ftjob-1", "POST fine_tuning/jobs"]
    else:
        assert sent(server) == ["GET fine_tuning/jobs", "POST fine_tuning/jobs"]


@pytest.mark.parametrize("cancel_on_kill", [True, False])
def test_a_fine_tuning_retry_with_a_changed_request_cancels_the_job_it_recorded(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], cancel_on_kill: bool
) -> None:
    fake = JobsAndBatches()
    server.script(fake.respond)
    store = StateStore()
    create = {
        "action": "create",
        "model": "gpt-4o-mini",
        "cancel_on_kill": cancel_on_kill,
        "wait_for_completion": False,
    }
    first = OpenAIManageFineTunesOperator(task_id="t", training_file="file-v1", **create)
    run_task(first, hook_at(server.base_url), task_context(1, store))
    fake.plant("job", fake.jobs[0], status="running")  # someone else's look-alike: never touched
    fake.jobs[0]["status"] = "running"
    server.script(fake.respond)
    second = OpenAIManageFineTunesOperator(task_id="t", training_file="file-v2", **create)
    job = run_task(second, hook_at(server.base_url), task_context(2, store))
    assert job["id"] == "ftjob-3" and job["training_file"] == "file-v2"
    cancel = ["POST fine_tuning/jobs/ftjob-1/cancel"] if cancel_on_kill else []
    assert sent(server) == ["GET fine_tuning/jobs/ftjob-1", *cancel, "POST fine_tuning/jobs"]
    assert fake.jobs[0]["status"] == ("cancelled" if cancel_on_kill else "running")
    assert fake.jobs[1]["status"] == "running"


def submit(server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], task: Any, context: dict[str, Any]) -> Any:
    return run_task(task, hook_at(server.base_url), context)


def batch_task() -> OpenAIBatchOperator:
    requests = [{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "classify ticket 1"}]}]
    return OpenAIBatchOperator(
        task_id="t", endpoint="/v1/chat/completions", requests=requests, wait_for_completion=False
    )


def test_a_batch_retry_never_adopts_a_planted_batch_with_the_same_metadata_and_digest(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    fake, store = JobsAndBatches(), StateStore()
    server.script(fake.respond)
    assert submit(server, hook_at, batch_task(), task_context(1, store)) == {"batch_ids": ["batch_1"]}
    planted = fake.plant("batch", fake.batches[0], status="completed", output_file_id="file-evil")
    assert planted["metadata"] == fake.batches[0]["metadata"]  # the digest too: it is computable from the input
    server.script(fake.respond)
    assert submit(server, hook_at, batch_task(), task_context(2, store)) == {"batch_ids": ["batch_1"]}
    assert sent(server) == ["GET batches/batch_1"]


def test_a_batch_retry_without_a_task_state_store_skips_a_batch_created_before_the_run(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    fake = JobsAndBatches()
    server.script(fake.respond)
    submit(server, hook_at, batch_task(), task_context(1, None))
    fake.batches[0]["created_at"] = int(RUN_START.timestamp()) - 1
    server.script(fake.respond)
    assert submit(server, hook_at, batch_task(), task_context(2, None)) == {"batch_ids": ["batch_2"]}
    assert sent(server) == ["GET batches", "POST files", "POST batches"]


@pytest.mark.parametrize("store", [StateStore, None], ids=["task state store", "metadata (Airflow 3.2)"])
def test_two_tries_on_one_batch_operator_list_the_batch_once(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], store: Any
) -> None:
    fake, task, shared = JobsAndBatches(), batch_task(), store() if store else None
    server.script(fake.respond)
    assert submit(server, hook_at, task, task_context(1, shared)) == {"batch_ids": ["batch_1"]}
    assert submit(server, hook_at, task, task_context(2, shared)) == {"batch_ids": ["batch_1"]}
    looked = "GET batches/batch_1" if store else "GET batches"
    assert sent(server) == ["POST files", "POST batches", looked] and len(fake.batches) == 1


def test_a_vector_store_retry_re_attaches_to_the_file_batch_it_recorded(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    fake, store = FakeVectorStores(), StateStore()
    fake.add_store("vs_1", "docs", OWNER)
    (tmp_path / "a.md").write_text("alpha")
    looks: list[str] = []

    def respond(request: Request) -> Behaviour:
        if "/file_batches/" in request.target and not looks:
            looks.append(request.target)
            return json_reply(400, {"error": {"message": "bad gateway state", "type": "invalid_request_error"}})
        return playing(fake)(request)

    server.script(respond)
    operator = OpenAIManageVectorStoresOperator(
        task_id="t", action="add_files", vector_store_id="vs_1", files=[str(tmp_path / "a.md")], poll_interval=0.01
    )
    with pytest.raises(Exception, match="bad gateway state"):
        run_task(operator, hook_at(server.base_url), task_context(1, store))
    first = len(server.requests)
    result = run_task(operator, hook_at(server.base_url), task_context(2, store))
    assert sent(server)[first:] == ["GET vector_stores/vs_1/file_batches/vsfb_1"] * 2  # the check, then the wait
    assert result["added"] == [{"filename": "a.md", "file_id": "file-up1"}]
    assert fake.calls.count("POST files") == fake.calls.count("POST vector_stores/vs_1/file_batches") == 1

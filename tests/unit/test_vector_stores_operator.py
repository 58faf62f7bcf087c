"""The vector-store operator and its trigger: the sync plan, bad input first, deferral and the return from it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_openai_fusion.api.vector_stores import plan_sync
from airflow_provider_openai_fusion.exceptions import BadRequestError, InvalidArgumentError
from airflow_provider_openai_fusion.operators import OpenAIManageVectorStoresOperator
from airflow_provider_openai_fusion.operators._vector_store_record import STATE_KEY as VECTOR_STORE_STATE_KEY
from airflow_provider_openai_fusion.operators.vector_stores import STATE_XCOM_KEY
from airflow_provider_openai_fusion.triggers import OpenAIVectorStoreFileBatchTrigger
from tests.unit.helpers import error, ok, raises
from tests.unit.responses_fake import StateStore, context
from tests.vector_stores_fake import OWNER, FakeVectorStores

STORE = {"id": "vs_1", "object": "vector_store", "name": "docs", "status": "completed"}


class TaskInstance:
    """The XCom of one task instance, as the operator uses it across a deferral (its own key, its own map index)."""

    task_id = "t"
    map_index = -1

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str, map_indexes: int) -> Any:
        assert (task_ids, map_indexes) == (self.task_id, self.map_index)
        return self.pushed.get(key)


def store_file(
    file_id: str, name: str | None, sha: str | None, status: str = "completed", managed: bool = True
) -> dict[str, Any]:
    attributes = {"filename": name, "sha256": sha} if name else {}
    if name and managed:
        attributes["managed_by"] = "airflow-provider-openai-fusion"
    return {"id": file_id, "object": "vector_store.file", "status": status, "attributes": attributes}


def test_plan_sync_adds_new_and_changed_removes_stale_and_keeps_unchanged() -> None:
    present = [
        store_file("file-same", "same.md", "h1"),
        store_file("file-old", "changed.md", "h2"),
        store_file("file-gone", "gone.md", "h3"),
        store_file("file-broken", "broken.md", "h4", status="failed"),
        store_file("file-byid", None, None),
        store_file("file-dupe", "same.md", "h1"),
        store_file("file-dropped-id", None, None),
        store_file("file-foreign", "new.md", "h5", managed=False),
        store_file("file-byid-failed", None, None, status="failed"),
    ]
    wanted = {"same.md": "h1", "changed.md": "h2-new", "broken.md": "h4", "new.md": "h5", "file-byid": "file-byid"}
    wanted["file-byid-failed"] = "file-byid-failed"
    plan = plan_sync(wanted, present)
    assert plan.add == ["changed.md", "broken.md", "new.md", "file-byid-failed"]
    assert plan.unchanged == [("file-byid", "file-byid"), ("same.md", "file-same")]
    assert [item["id"] for item in plan.remove] == ["file-old", "file-gone", "file-broken", "file-dupe"]
    assert plan.replaced == {"changed.md": "file-old", "broken.md": "file-broken"}
    assert [item["id"] for item in plan.unmanaged] == ["file-dropped-id", "file-foreign"]


class FakeStores:
    """A MockTransport handler for one store, whose file batches are in_progress for ``polls`` GETs."""

    def __init__(self, polls: int = 1, failed: tuple[str, ...] = (), batch_error: int | None = None) -> None:
        self.polls = polls
        self.failed = failed
        self.batch_error = batch_error
        self.requests: list[httpx.Request] = []
        self.uploaded: dict[str, str] = {}

    def batch(self, status: str) -> dict[str, Any]:
        counts = {"completed": 0, "failed": len(self.failed), "in_progress": 0, "cancelled": 0, "total": 1}
        return {"id": "vsfb_1", "vector_store_id": "vs_1", "status": status, "file_counts": counts}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        method, path = request.method, request.url.path.removeprefix("/v1/")
        if (method, path) == ("POST", "files"):
            file_id = f"file-{len(self.uploaded) + 1}"
            self.uploaded[file_id] = path
            return ok({"id": file_id, "object": "file", "bytes": 1})
        if (method, path) == ("GET", "vector_stores"):
            twins = [{**STORE, "id": ident, "name": "twin"} for ident in ("vs_2", "vs_3")]
            return ok({"object": "list", "data": [STORE, *twins], "has_more": False})
        if path == "vector_stores/vs_1/file_batches":
            return error(self.batch_error, "batch refused") if self.batch_error else ok(self.batch("in_progress"))
        if method == "DELETE" and path.startswith("files/"):
            return ok({"id": path.split("/")[1], "object": "file", "deleted": True})
        if path == "vector_stores/vs_1/file_batches/vsfb_1":
            self.polls -= 1
            return ok(self.batch("in_progress" if self.polls >= 0 else "completed"))
        if path == "vector_stores/vs_1/file_batches/vsfb_1/files":
            last_error = {"code": "invalid_file", "message": "unreadable"}
            data = [{**store_file(file_id, None, None, "failed"), "last_error": last_error} for file_id in self.failed]
            return ok({"object": "list", "data": data, "has_more": False})
        if path == "vector_stores/vs_1/files":
            return ok({"object": "list", "data": [], "has_more": False})
        if path == "vector_stores/vs_1/search":
            return ok({"object": "vector_store.search_results.page", "data": [{"file_id": "file-1", "score": 0.5}]})
        return error(404, f"no route {method} {path}")

    def calls(self) -> list[str]:
        return [f"{request.method} {request.url.path.removeprefix('/v1/')}" for request in self.requests]


def operator_with(make_hook: Any, fake: FakeStores, **kwargs: Any) -> OpenAIManageVectorStoresOperator:
    operator = OpenAIManageVectorStoresOperator(task_id="t", **kwargs)
    operator.hook = make_hook(fake)
    return operator


def test_add_files_defers_after_one_look_and_reports_failed_files_on_return(make_hook: Any, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("alpha")
    fake = FakeStores(polls=5, failed=("file-1",))
    operator = operator_with(
        make_hook,
        fake,
        action="add_files",
        vector_store_id="vs_1",
        files=json.dumps([str(tmp_path / "a.md"), "file-given"]),
        deferrable=True,
        fail_on_file_errors=False,
        advanced={"chunking_strategy": {"type": "auto"}},
    )
    ti = TaskInstance()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"ti": ti})
    trigger, state = deferred.value.trigger, ti.pushed[STATE_XCOM_KEY]
    assert isinstance(trigger, OpenAIVectorStoreFileBatchTrigger) and trigger.job_id == "vs_1/vsfb_1"
    batch_body = json.loads(fake.requests[1].content)
    assert batch_body == {
        "files": [
            {
                "file_id": "file-1",
                "attributes": {
                    "filename": "a.md",
                    "sha256": state["added"][0]["sha256"],
                    "managed_by": "airflow-provider-openai-fusion",
                },
                "chunking_strategy": {"type": "auto"},
            },
            {"file_id": "file-given", "chunking_strategy": {"type": "auto"}},
        ]
    }
    assert json.loads(json.dumps(state)) == state  # plain values: it is kept in XCom across the deferral
    assert deferred.value.kwargs is None

    fake.requests.clear()
    event = {"status": "completed", "job_id": "vsfb_1", "job": fake.batch("completed")}
    result = operator.execute_complete({"ti": ti}, event)
    assert fake.calls() == ["GET vector_stores/vs_1/file_batches/vsfb_1/files"]
    assert result["added"] == [{"filename": None, "file_id": "file-given"}]
    assert result["failed"] == [
        {"filename": "a.md", "file_id": "file-1", "error": {"code": "invalid_file", "message": "unreadable"}}
    ]


def test_files_uploaded_for_a_batch_that_cannot_be_created_are_deleted(make_hook: Any, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("alpha")
    fake = FakeStores(batch_error=400)
    operator = operator_with(
        make_hook, fake, action="add_files", vector_store_id="vs_1", files=[str(tmp_path / "a.md")]
    )
    with raises(BadRequestError, match="batch refused"):
        operator.execute({})
    assert fake.calls() == ["POST files", "POST vector_stores/vs_1/file_batches", "DELETE files/file-1"]


def test_trigger_polls_until_the_batch_settles(make_hook: Any) -> None:
    fake = FakeStores(polls=2)
    trigger = OpenAIVectorStoreFileBatchTrigger(job_id="vs_1/vsfb_1", conn_id="c", poll_interval=0.001)
    trigger.hook = make_hook(fake)

    async def events() -> list[Any]:
        return [event async for event in trigger.run()]

    (event,) = asyncio.run(events())
    assert event.payload == {"status": "completed", "job_id": "vs_1/vsfb_1"}
    assert fake.calls() == ["GET vector_stores/vs_1/file_batches/vsfb_1"] * 3
    assert OpenAIVectorStoreFileBatchTrigger(**trigger.serialize()[1]).serialize() == trigger.serialize()


def test_search_sends_the_named_fields_and_returns_the_results(make_hook: Any) -> None:
    fake = FakeStores()
    operator = operator_with(
        make_hook,
        fake,
        action="search",
        name="docs",
        query='["owls", "night"]',
        max_num_results="3",
        filters='{"type": "eq", "key": "filename", "value": "a.md"}',
        advanced={"rewrite_query": True},
    )
    assert operator.execute({}) == [{"file_id": "file-1", "score": 0.5}]
    assert fake.calls() == ["GET vector_stores", "POST vector_stores/vs_1/search"]
    assert json.loads(fake.requests[1].content) == {
        "query": ["owls", "night"],
        "max_num_results": 3,
        "filters": {"type": "eq", "key": "filename", "value": "a.md"},
        "rewrite_query": True,
    }


@pytest.mark.parametrize(
    ("kwargs", "argument", "message"),
    [
        ({"action": "index"}, "action", "must be one of"),
        ({"action": "create", "files": ["a"]}, "files", "does not apply to action='create'"),
        ({"action": "get"}, "vector_store_id", r"is required with action='get' \(or a name\)"),
        ({"action": "get", "vector_store_id": "vs_1", "name": "docs"}, "name", "either vector_store_id or name"),
        ({"action": "sync", "name": "docs"}, "files", "is required with action='sync'"),
        ({"action": "sync", "name": "docs", "files": [""]}, "files", "must be a list of local paths"),
        ({"action": "sync", "name": "docs", "files": ["{tmp}/missing.md"]}, "files", "no such file"),
        ({"action": "sync", "name": "docs", "files": ["{tmp}/a/x.md", "{tmp}/b/x.md"]}, "files", "two files"),
        ({"action": "search", "name": "docs"}, "query", "is required with action='search'"),
        ({"action": "search", "vector_store_id": "vs_1", "query": "q", "max_num_results": 51}, "max_num_results", "50"),
        ({"action": "search", "vector_store_id": "vs_1", "query": "q", "filters": "{bad"}, "filters", "not valid JSON"),
        ({"action": "delete", "vector_store_id": "vs 1"}, "vector_store_id", "must be a vector store id"),
        ({"action": "list", "limit": 0}, "limit", "must be a positive integer"),
        (
            {"action": "sync", "name": "d", "files": ["{tmp}/a/x.md"], "advanced": {"attributes": {}}},
            "advanced",
            "which is a",
        ),
        (
            {"action": "sync", "name": "d", "files": ["{tmp}/a/x.md"], "advanced": {"chunking": 1}},
            "advanced.chunking",
            "not a field",
        ),
        ({"action": "search", "name": "twin", "query": "q"}, "name", "2 vector stores are named 'twin'"),
        ({"action": "get", "name": "nothing"}, "name", "no vector store is named 'nothing'"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(
    make_hook: Any, tmp_path: Path, kwargs: dict[str, Any], argument: str, message: str
) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.md").write_text("x")
    fake = FakeStores()
    fake_kwargs = {
        k: [v.format(tmp=tmp_path) for v in val] if isinstance(val, list) else val for k, val in kwargs.items()
    }
    operator = operator_with(make_hook, fake, **fake_kwargs)
    with raises(InvalidArgumentError, match=message) as info:
        operator.execute({})
    assert info.value.argument == argument
    assert fake.calls() == (["GET vector_stores"] if "named" in message else [])  # a name is looked up first


def test_resuming_without_the_saved_state_fails_clearly(make_hook: Any) -> None:
    operator = operator_with(make_hook, FakeStores(), action="sync", name="docs", files=["x"])
    event = {"status": "completed", "job_id": "vsfb_1", "job": FakeStores().batch("completed")}
    with raises(Exception, match="before deferring is missing"):
        operator.execute_complete({"ti": TaskInstance()}, event)


def fake_vector_stores(make_hook: Any, fake: FakeVectorStores, **kwargs: Any) -> OpenAIManageVectorStoresOperator:
    def handler(request: httpx.Request) -> httpx.Response:
        status, payload = fake.answer(request.method, request.url.path.removeprefix("/v1/"), request.read())
        return httpx.Response(status, json=payload)

    operator = OpenAIManageVectorStoresOperator(task_id="t", poll_interval=0.001, **kwargs)
    operator.hook = make_hook(handler)
    return operator


def planted(fake: FakeVectorStores, tmp_path: Path, metadata: dict[str, str] | None) -> list[str]:
    """A store holding: a stale and a changed file of the provider's, another team's file, a file given by id."""
    fake.add_store("vs_1", "docs", metadata)
    (tmp_path / "a.md").write_text("alpha, second version")
    (tmp_path / "new.md").write_text("new")
    fake.add_file("vs_1", "file-old", {"filename": "old.md", "sha256": "h-old", **OWNER})
    fake.add_file("vs_1", "file-a1", {"filename": "a.md", "sha256": "h-first-version", **OWNER})
    fake.add_file("vs_1", "file-theirs", {"filename": "theirs.md", "team": "search"})
    fake.add_file("vs_1", "file-given")
    return [str(tmp_path / "a.md"), str(tmp_path / "new.md")]


def test_sync_detaches_and_deletes_only_the_files_the_provider_uploaded(
    make_hook: Any, tmp_path: Path, capsys: Any
) -> None:
    fake = FakeVectorStores()
    files = planted(fake, tmp_path, OWNER)
    operator = fake_vector_stores(make_hook, fake, action="sync", name="docs", files=files)
    result = operator.execute({})
    log = capsys.readouterr().out

    deletions = sorted(call for call in fake.calls if call.startswith("DELETE"))
    assert deletions == [
        "DELETE files/file-a1",
        "DELETE files/file-old",
        "DELETE vector_stores/vs_1/files/file-a1",
        "DELETE vector_stores/vs_1/files/file-old",
    ]
    assert fake.touched("file-theirs") == [] and fake.touched("file-given") == []
    assert set(fake.store_files["vs_1"]) == {"file-theirs", "file-given", "file-up5", "file-up6"}
    assert result["added"] == [{"filename": "new.md", "file_id": "file-up6"}]
    assert result["changed"] == [{"filename": "a.md", "file_id": "file-up5", "replaced_file_id": "file-a1"}]
    assert result["removed"] == [{"filename": "old.md", "file_id": "file-old"}]
    assert result["unmanaged"] == [
        {"filename": "theirs.md", "file_id": "file-theirs"},
        {"filename": None, "file_id": "file-given"},
    ]
    assert "1 file added, 1 file changed, 1 file removed, 0 files unchanged, 0 files failed, 2 files left" in log
    assert "1 files" not in log


def test_sync_refuses_a_store_found_by_name_without_the_mark(make_hook: Any, tmp_path: Path) -> None:
    fake = FakeVectorStores()
    files = planted(fake, tmp_path, {"team": "search"})
    operator = fake_vector_stores(make_hook, fake, action="sync", name="docs", files=files)
    with raises(InvalidArgumentError, match="vector store vs_1 named 'docs' was not created by this provider") as info:
        operator.execute({})
    assert info.value.argument == "name" and "vector_store_id='vs_1'" in str(info.value)
    assert fake.calls == ["GET vector_stores"]


def test_sync_of_an_unmarked_store_given_by_id_still_leaves_unmarked_files_alone(
    make_hook: Any, tmp_path: Path
) -> None:
    fake = FakeVectorStores()
    files = planted(fake, tmp_path, None)
    result = fake_vector_stores(make_hook, fake, action="sync", vector_store_id="vs_1", files=files).execute({})
    assert fake.touched("file-theirs") == [] and fake.touched("file-given") == []
    assert [item["file_id"] for item in result["unmanaged"]] == ["file-theirs", "file-given"]
    assert [item["file_id"] for item in result["removed"]] == ["file-old"]


def test_a_file_given_by_id_that_fails_is_not_deleted(make_hook: Any) -> None:
    fake = FakeStores(failed=("file-given",))
    operator = operator_with(
        make_hook, fake, action="sync", vector_store_id="vs_1", files=["file-given"], fail_on_file_errors=False
    )
    result = operator.execute({})
    assert result["failed"][0]["file_id"] == "file-given"
    assert not [call for call in fake.calls() if call.startswith("DELETE")]


def test_stores_the_provider_creates_carry_its_mark(make_hook: Any, tmp_path: Path) -> None:
    fake = FakeVectorStores()
    (tmp_path / "a.md").write_text("alpha")
    fake_vector_stores(make_hook, fake, action="create", name="kb", advanced={"metadata": {"team": "x"}}).execute({})
    fake_vector_stores(make_hook, fake, action="sync", name="docs", files=[str(tmp_path / "a.md")]).execute({})
    assert [body.get("metadata") for body in fake.bodies if "files" not in body] == [{"team": "x", **OWNER}, OWNER]
    again = fake_vector_stores(make_hook, fake, action="sync", name="docs", files=[str(tmp_path / "a.md")])
    assert again.execute({})["unchanged"] == [{"filename": "a.md", "file_id": "file-up1"}]


def failing_once(fake: FakeVectorStores, call: str, status: int = 503) -> Any:
    """A handler playing ``fake`` that answers the first request ``call`` (``"METHOD path"``) with ``status``."""
    failed: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1/")
        if f"{request.method} {path}" == call and not failed:
            failed.append(call)
            return error(status, "try again later")
        status_code, payload = fake.answer(request.method, path, request.read())
        return httpx.Response(status_code, json=payload)

    return handler


def attach_operator(make_hook: Any, handler: Any, tmp_path: Path) -> OpenAIManageVectorStoresOperator:
    (tmp_path / "a.md").write_text("alpha")
    operator = OpenAIManageVectorStoresOperator(
        task_id="t", action="add_files", vector_store_id="vs_1", files=[str(tmp_path / "a.md")], poll_interval=0.001
    )
    operator.hook = make_hook(handler)
    return operator


def test_a_retry_re_attaches_to_the_file_batch_its_earlier_try_recorded(make_hook: Any, tmp_path: Path) -> None:
    fake, store = FakeVectorStores(), StateStore()
    fake.add_store("vs_1", "docs", OWNER)
    operator = attach_operator(
        make_hook, failing_once(fake, "GET vector_stores/vs_1/file_batches/vsfb_1", 400), tmp_path
    )
    with raises(Exception, match="try again later"):
        operator.execute(context(store, 1))
    assert store.values[VECTOR_STORE_STATE_KEY]["state"]["batch_id"] == "vsfb_1"
    result = operator.execute(context(store, 2))
    assert result["added"] == [{"filename": "a.md", "file_id": "file-up1"}]
    assert [call for call in fake.calls if call.startswith("POST")] == [
        "POST files",
        "POST vector_stores/vs_1/file_batches",
    ]
    assert VECTOR_STORE_STATE_KEY not in store.values  # settled: a later clear starts afresh


def test_a_retry_reuses_the_upload_of_a_try_that_died_before_its_file_batch(make_hook: Any, tmp_path: Path) -> None:
    fake, store = FakeVectorStores(), StateStore()
    fake.add_store("vs_1", "docs", OWNER)
    handler = failing_once(fake, "POST vector_stores/vs_1/file_batches")
    operator = attach_operator(make_hook, handler, tmp_path)
    with raises(Exception, match="try again later"):
        operator.execute(context(store, 1))
    assert fake.calls[-1] == "DELETE files/file-up1"  # a failing try removes what it uploaded...
    fake.files["file-up1"] = {"id": "file-up1", "object": "file", "bytes": 5}  # ...unless it dies first
    assert operator.execute(context(store, 2))["added"] == [{"filename": "a.md", "file_id": "file-up1"}]
    assert fake.calls.count("POST files") == 1
    fake.calls.clear()
    assert operator.execute(context(StateStore(), 3))["added"] == [{"filename": "a.md", "file_id": "file-up2"}]
    assert fake.calls[:1] == ["POST files"]  # nothing recorded for this task instance: nothing reused


def test_two_syncs_on_one_instance_share_nothing(make_hook: Any, tmp_path: Path) -> None:
    fake = FakeVectorStores()
    (tmp_path / "a.md").write_text("alpha")
    operator = fake_vector_stores(make_hook, fake, action="sync", name="docs", files=[str(tmp_path / "a.md")])
    first = operator.execute(context(StateStore(), 1))
    second = operator.execute(context(StateStore(), 2))
    assert [item["filename"] for item in first["added"]] == ["a.md"] and second["added"] == []
    assert second["unchanged"] == [{"filename": "a.md", "file_id": "file-up1"}]

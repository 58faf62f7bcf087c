"""
Large uploads and vector stores against the stand-in behind ``prism proxy --errors``: every request and answer
has the shape of OpenAI's spec. File processing, its timing and search results are the stand-in's behaviour.
The single-request limit and the part size are lowered so that a small file takes the Uploads API path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion.api import files, uploads, vector_stores
from airflow_provider_openai_fusion.exceptions import NotFoundError, VectorStoreFileError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import (
    OpenAIManageFilesOperator,
    OpenAIManageVectorStoresOperator,
    OpenAIResponseOperator,
)
from tests.conftest import ROOT, AirflowHome, Stack, connection_json

# The session's stand-in starts in the first test that needs it (up to 120 s).
pytestmark = [pytest.mark.contract, pytest.mark.timeout(300)]


@pytest.fixture
def hook(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIFusionHook]:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_DEFAULT", connection_json(stack.base_url, stack.api_key))
    instance = OpenAIFusionHook()
    yield instance
    instance.close()


def run(operator: Any) -> Any:
    return operator.execute({})


def test_a_large_upload_goes_through_parts_and_reads_back_whole(
    hook: OpenAIFusionHook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 4096)
    monkeypatch.setattr(uploads, "PART_BYTES", 2048)
    source = tmp_path / "train.jsonl"
    source.write_text("".join(f'{{"messages": [{{"role": "user", "content": "line {n}"}}]}}\n' for n in range(300)))
    uploaded = run(OpenAIManageFilesOperator(task_id="t", action="upload", file=str(source), purpose="fine-tune"))
    assert uploaded["object"] == "file" and uploaded["bytes"] == source.stat().st_size
    assert uploaded["filename"] == "train.jsonl" and uploaded["purpose"] == "fine-tune"
    written = hook.download(files.retrieve_file_content(uploaded["id"]), tmp_path / "back.jsonl")
    assert written.read_bytes() == source.read_bytes()


def test_an_upload_can_be_cancelled(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    source = tmp_path / "part.txt"
    source.write_text("hello " * 100)
    body = uploads.CreateUploadRequest(filename="part.txt", purpose="assistants", bytes=1200, mime_type="text/plain")
    upload = hook.request(uploads.create_upload(body))
    assert upload["status"] == "pending"
    part = hook.request(uploads.add_part(upload["id"], source, 0, 600))
    assert part["object"] == "upload.part" and part["upload_id"] == upload["id"]
    assert hook.request(uploads.cancel_upload(upload["id"]))["status"] == "cancelled"


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def names(items: list[dict[str, Any]]) -> list[str]:
    return sorted(item["filename"] for item in items)


def test_sync_adds_changes_and_removes_only_what_changed(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    paths = [
        write(docs, "owls.md", "Owls hunt at night and see well in the dark."),
        write(docs, "bees.md", "Bees make honey and pollinate flowers."),
        write(docs, "broken.md", "This one says FAIL-INDEXING so the stand-in fails it."),
    ]
    name = f"docs-{tmp_path.name}"

    def sync(**extra: Any) -> Any:
        return run(
            OpenAIManageVectorStoresOperator(
                task_id="t", action="sync", name=name, files=[str(p) for p in paths], poll_interval=0.2, **extra
            )
        )

    first = sync(fail_on_file_errors=False)
    assert names(first["added"]) == ["bees.md", "owls.md"] and first["removed"] == [] and first["unchanged"] == []
    assert [item["filename"] for item in first["failed"]] == ["broken.md"]
    assert first["failed"][0]["error"]["code"] == "invalid_file"
    store_id = first["vector_store_id"]

    paths[1].write_text("Bees make honey, wax and royal jelly.")
    paths = [paths[0], paths[1], write(docs, "cats.md", "Cats sleep most of the day.")]
    second = sync()
    assert second["vector_store_id"] == store_id
    assert names(second["added"]) == ["cats.md"] and names(second["unchanged"]) == ["owls.md"]
    assert names(second["changed"]) == ["bees.md"] and second["removed"] == second["failed"] == []
    assert second["unchanged"][0]["file_id"] == next(i["file_id"] for i in first["added"] if i["filename"] == "owls.md")
    old_bees = second["changed"][0]["replaced_file_id"]
    assert old_bees == next(i["file_id"] for i in first["added"] if i["filename"] == "bees.md")
    assert old_bees not in {item["id"] for item in hook.paginate(files.list_files())}

    third = sync()
    assert names(third["unchanged"]) == ["bees.md", "cats.md", "owls.md"] and third["added"] == third["removed"] == []
    assert third["changed"] == third["unmanaged"] == []

    results = run(
        OpenAIManageVectorStoresOperator(
            task_id="t", action="search", vector_store_id=store_id, query="when do owls hunt", max_num_results=2
        )
    )
    assert results[0]["filename"] == "owls.md" and 0 < results[0]["score"] <= 1
    filtered = run(
        OpenAIManageVectorStoresOperator(
            task_id="t",
            action="search",
            name=name,
            query="honey owls cats",
            filters={"type": "eq", "key": "filename", "value": "cats.md"},
        )
    )
    assert [item["filename"] for item in filtered] == ["cats.md"]

    store = run(OpenAIManageVectorStoresOperator(task_id="t", action="get", name=name))
    assert store["id"] == store_id and store["file_counts"]["completed"] == 3
    assert store_id in {s["id"] for s in run(OpenAIManageVectorStoresOperator(task_id="t", action="list"))}
    deleted = run(OpenAIManageVectorStoresOperator(task_id="t", action="delete", vector_store_id=store_id))
    assert deleted == {"id": store_id, "object": "vector_store.deleted", "deleted": True}


def test_add_files_fails_the_task_on_a_failed_file_after_reporting_it(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    good = write(tmp_path, "good.txt", "plain words")
    bad = write(tmp_path, "bad.txt", "FAIL-INDEXING please")
    existing = hook.request(files.upload_file(write(tmp_path, "id.txt", "by id"), "assistants"))["id"]
    store = run(OpenAIManageVectorStoresOperator(task_id="t", action="create", name="adds"))
    operator = OpenAIManageVectorStoresOperator(
        task_id="t",
        action="add_files",
        vector_store_id=store["id"],
        files=[str(good), str(bad), existing],
        poll_interval=0.2,
    )
    with pytest.raises(VectorStoreFileError, match=r"1 file failed .*bad\.txt: invalid_file"):
        run(operator)
    listed = hook.paginate(vector_stores.list_store_files(store["id"]))
    assert {item["id"]: item["status"] for item in listed}[existing] == "completed" and len(listed) == 3


def test_file_search_in_a_response_searches_the_store_it_names(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    owls = write(tmp_path, "owls.md", "Owls hunt at night and see well in the dark.")
    bees = write(tmp_path, "bees.md", "Bees make honey and pollinate flowers.")
    synced = run(
        OpenAIManageVectorStoresOperator(
            task_id="t", action="sync", name=f"fs-{tmp_path.name}", files=[str(owls), str(bees)], poll_interval=0.2
        )
    )
    tool = {"type": "file_search", "vector_store_ids": [synced["vector_store_id"]], "max_num_results": 1}
    answer = run(
        OpenAIResponseOperator(
            task_id="t",
            model="gpt-4.1-mini",
            input="When do owls hunt?",
            tools=[tool],
            advanced={"include": ["file_search_call.results"]},
        )
    )
    search_call, message = answer["output"]
    assert search_call["queries"] == ["When do owls hunt?"]
    assert [result["filename"] for result in search_call["results"]] == ["owls.md"]
    assert message["content"][0]["annotations"][0]["file_id"] == search_call["results"][0]["file_id"]
    with pytest.raises(NotFoundError, match="vs_missing"):
        run(
            OpenAIResponseOperator(
                task_id="t",
                model="gpt-4.1-mini",
                input="When do owls hunt?",
                tools=[{"type": "file_search", "vector_store_ids": ["vs_missing"]}],
            )
        )


@pytest.mark.airflow
@pytest.mark.timeout(1200)  # airflow_home (up to 120 s) + run_dag (up to 600 s), with slack
def test_example_dag_syncs_searches_and_answers_under_dags_test(airflow_home: AirflowHome, stack: Stack) -> None:
    """``airflow dags test`` runs the trigger in line: the sync defers, resumes with its saved state, and twice in a
    row the second run finds everything unchanged; the Responses call with the file_search tool passes Prism."""
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    dag_file = ROOT / "example_dags" / "vector_store_nightly_sync.py"
    first = airflow_home.run_dag(dag_file, "openai_fusion_vector_store_nightly_sync", env)
    second = airflow_home.run_dag(dag_file, "openai_fusion_vector_store_nightly_sync", env)
    for tasks in (first, second):
        assert {label: result.state for label, result in tasks.items()} == {
            label: "success"
            for label in ("list_documents", "sync_handbook", "search_handbook", "answer_with_file_search")
        }, airflow_home.last.stdout[-4000:]
    answer = second["answer_with_file_search"].xcom
    assert answer["output_text"] and answer["tools"][0]["type"] == "file_search"
    assert answer["tools"][0]["vector_store_ids"] == [second["sync_handbook"].xcom["vector_store_id"]]
    assert names(first["sync_handbook"].xcom["added"]) == ["expenses.md", "holidays.md", "security.md"]
    assert names(second["sync_handbook"].xcom["unchanged"]) == ["expenses.md", "holidays.md", "security.md"]
    assert second["sync_handbook"].xcom["added"] == second["sync_handbook"].xcom["removed"] == []
    assert second["search_handbook"].xcom[0]["filename"] == "holidays.md"
    search_call, message = answer["output"]
    assert search_call["type"] == "file_search_call" and search_call["status"] == "completed"
    cited = [note["filename"] for note in message["content"][0]["annotations"]]
    assert cited[0] == "holidays.md" and "According to holidays.md" in answer["output_text"]

"""
The Vector stores API's calls as OpenAI's spec gives them (method, path, query, body, answer schema, listing),
the file batch as a job (its looks and its outcome) and the attribute limits: cases added for mutants of
``api/vector_stores.py`` that survived the operator's tests (scripts/mutation.sh vector_sync). Every call is
made inside its test, not when the module is collected (mutmut forks each mutant's run after collection).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.api._base import Deletion
from airflow_provider_openai_fusion.api.vector_stores import (
    FILE_BATCHES,
    CreateFileBatchRequest,
    FileBatch,
    SearchResults,
    StoreFile,
    VectorStore,
    VectorStoreFile,
    batch_job_id,
    create_file_batch,
    create_vector_store,
    delete_store_file,
    delete_vector_store,
    files_count,
    is_managed,
    list_batch_files,
    list_store_files,
    list_vector_stores,
    retrieve_vector_store,
    search,
)
from airflow_provider_openai_fusion.exceptions import JobFailedError

JOB = "vs_1/vsfb_1"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            lambda: create_vector_store({"name": "docs"}),
            RequestSpec("POST", "vector_stores", json={"name": "docs"}, response=VectorStore),
        ),
        (
            lambda: list_vector_stores(),
            RequestSpec("GET", "vector_stores", params={"limit": 100}, response=VectorStore, listing=True),
        ),
        (lambda: retrieve_vector_store("vs_1"), RequestSpec("GET", "vector_stores/vs_1", response=VectorStore)),
        (lambda: delete_vector_store("vs/1"), RequestSpec("DELETE", "vector_stores/vs%2F1", response=Deletion)),
        (
            lambda: list_store_files("vs_1"),
            RequestSpec(
                "GET", "vector_stores/vs_1/files", params={"limit": 100}, response=VectorStoreFile, listing=True
            ),
        ),
        (
            lambda: delete_store_file("vs_1", "file-1"),
            RequestSpec("DELETE", "vector_stores/vs_1/files/file-1", response=Deletion),
        ),
        (
            lambda: create_file_batch("vs_1", CreateFileBatchRequest(files=[StoreFile(file_id="file-1")])),
            RequestSpec(
                "POST", "vector_stores/vs_1/file_batches", json={"files": [{"file_id": "file-1"}]}, response=FileBatch
            ),
        ),
        (
            lambda: list_batch_files(JOB, "failed"),
            RequestSpec(
                "GET",
                "vector_stores/vs_1/file_batches/vsfb_1/files",
                params={"limit": 100, "filter": "failed"},
                response=VectorStoreFile,
                listing=True,
            ),
        ),
        (
            lambda: search("vs_1", {"query": "q"}),
            RequestSpec("POST", "vector_stores/vs_1/search", json={"query": "q"}, response=SearchResults),
        ),
        (
            lambda: FILE_BATCHES.retrieve(JOB),
            RequestSpec("GET", "vector_stores/vs_1/file_batches/vsfb_1", response=FileBatch),
        ),
        (
            lambda: FILE_BATCHES.cancel(JOB),
            RequestSpec("POST", "vector_stores/vs_1/file_batches/vsfb_1/cancel", response=FileBatch),
        ),
    ],
    ids=lambda value: value.label if isinstance(value, RequestSpec) else "",
)
def test_each_call_is_the_spec_s(call: Callable[[], RequestSpec], expected: RequestSpec) -> None:
    assert call() == expected


def test_a_file_batch_is_followed_by_store_and_batch_id() -> None:
    assert batch_job_id("vs_1", "vsfb_1") == JOB
    assert list_batch_files(JOB).params == {"limit": 100, "filter": None}


def look(batch: dict[str, Any]) -> tuple[Any, ...]:
    steps = FILE_BATCHES.look(JOB, "cursor")
    assert next(steps) == FILE_BATCHES.retrieve(JOB)
    with pytest.raises(StopIteration) as done:
        steps.send(batch)
    return done.value.value  # type: ignore[no-any-return]


def test_each_look_at_a_file_batch_logs_its_counts() -> None:
    counts = {"completed": 3, "failed": 1, "in_progress": 2, "total": 6}
    batch = {"id": "vsfb_1", "status": "in_progress", "file_counts": counts}
    assert look(batch) == (batch, [("info", "3 completed, 1 failed, 2 in_progress, 0 cancelled of 6 files")], "cursor")
    one = {"id": "vsfb_1", "status": "completed", "file_counts": {"completed": 1, "total": 1}}
    assert look(one)[1] == [("info", "1 completed, 0 failed, 0 in_progress, 0 cancelled of 1 file")]
    bare = {"id": "vsfb_1", "status": "in_progress"}
    assert look(bare)[1] == [("info", "0 completed, 0 failed, 0 in_progress, 0 cancelled of ? files")]


def test_a_file_batch_s_kind_and_outcome() -> None:
    assert (FILE_BATCHES.noun, FILE_BATCHES.terminal) == (
        "vector-store file batch",
        ("completed", "failed", "cancelled"),
    )
    done = {"id": "vsfb_1", "status": "completed"}
    assert FILE_BATCHES.outcome(done, "fail") == done
    with pytest.raises(JobFailedError) as info:
        FILE_BATCHES.outcome({"id": "vsfb_2", "status": "cancelled"}, "fail")
    assert (info.value.job_id, info.value.status) == ("vsfb_2", "cancelled")
    assert str(info.value) == "Vector-store file batch vsfb_2 was cancelled"


@pytest.mark.parametrize(("count", "words"), [(0, "0 files"), (1, "1 file"), (2, "2 files")])
def test_files_are_counted_in_words(count: int, words: str) -> None:
    assert files_count(count) == words


def test_a_store_file_takes_sixteen_attributes_with_names_of_64_characters() -> None:
    assert len(StoreFile(file_id="f", attributes={f"k{n}": n for n in range(16)}).attributes or {}) == 16
    assert StoreFile(file_id="f", attributes={"a" * 64: "v"}).attributes == {"a" * 64: "v"}
    with pytest.raises(ValidationError, match="at most 16 attributes, got 17"):
        StoreFile(file_id="f", attributes={f"k{n}": n for n in range(17)})
    with pytest.raises(ValidationError, match=r"attribute name 'bbbbbbbbbbbbbbbbbbbb'\.\.\. is longer than 64"):
        StoreFile(file_id="f", attributes={"b" * 65: "v"})


@pytest.mark.parametrize(
    ("attributes", "managed"),
    [
        ({"managed_by": "airflow-provider-openai-fusion"}, True),
        ({"managed_by": "someone else"}, False),
        ({}, False),
        (None, False),
        ("managed_by", False),
    ],
)
def test_the_provider_s_mark(attributes: Any, managed: bool) -> None:
    assert is_managed(attributes) is managed

"""The files operator: pages followed, uploads streamed from disk, downloads streamed to disk, bad input first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion.exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    InvalidArgumentError,
)
from airflow_provider_openai_fusion.operators import OpenAIManageFilesOperator
from tests.unit.helpers import Script, error, ok, raises
from tests.unit.media import fields, parts, sparse

FILE = {"id": "file-1", "object": "file", "bytes": 8, "created_at": 1, "filename": "a.jsonl", "purpose": "fine-tune"}


def run(make_hook: Any, operator: Any, *replies: httpx.Response, **extra: Any) -> tuple[Any, Script]:
    script = Script(*replies)
    operator.hook = make_hook(script, **extra)
    return operator.execute({}), script


def page(ids: list[str], has_more: bool) -> httpx.Response:
    data = [{**FILE, "id": ident} for ident in ids]
    return ok({"object": "list", "data": data, "first_id": ids[0], "last_id": ids[-1], "has_more": has_more})


def test_list_follows_pages_up_to_the_limit(make_hook: Any) -> None:
    operator = OpenAIManageFilesOperator(task_id="t", action="list", purpose="batch", limit=3)
    result, script = run(make_hook, operator, page(["f1", "f2"], True), page(["f3", "f4"], True))
    assert [item["id"] for item in result] == ["f1", "f2", "f3"]
    assert [dict(r.url.params) for r in script.requests] == [{"purpose": "batch"}, {"purpose": "batch", "after": "f2"}]


def test_list_without_limit_reads_every_page(make_hook: Any) -> None:
    operator = OpenAIManageFilesOperator(task_id="t", action="list")
    result, script = run(make_hook, operator, page(["f1"], True), page(["f2"], False))
    assert [item["id"] for item in result] == ["f1", "f2"] and script.attempts == 2


def test_upload_streams_the_file_with_its_purpose_and_resends_it_whole_on_retry(make_hook: Any, tmp_path: Path) -> None:
    source = tmp_path / "train.jsonl"
    source.write_bytes(b'{"messages": []}\n' * 5000)
    operator = OpenAIManageFilesOperator(task_id="t", action="upload", file=str(source), purpose="fine-tune")
    result, script = run(make_hook, operator, error(503), ok(FILE), max_retries=1)
    assert result == FILE and script.attempts == 2
    for request in script.requests:
        assert request.method == "POST" and request.url.path == "/v1/files"
        assert fields(request) == {"purpose": ["fine-tune"]}
        assert [(p.name, p.filename, p.data) for p in parts(request) if p.filename] == [
            ("file", "train.jsonl", source.read_bytes())
        ]


def test_retrieve_and_delete(make_hook: Any) -> None:
    retrieve = OpenAIManageFilesOperator(task_id="t", action="retrieve", file_id=" file-1/x ")
    result, script = run(make_hook, retrieve, ok(FILE))
    assert result == FILE and script.requests[0].url.raw_path == b"/v1/files/file-1%2Fx"
    delete = OpenAIManageFilesOperator(task_id="t", action="delete", file_id="file-1")
    deleted = {"id": "file-1", "object": "file", "deleted": True}
    result, script = run(make_hook, delete, ok(deleted))
    assert result == deleted and script.requests[0].method == "DELETE"


class Chunks(httpx.SyncByteStream):
    """A body sent in chunks, optionally breaking after them."""

    def __init__(self, chunks: list[bytes], fail: bool = False) -> None:
        self.chunks = chunks
        self.fail = fail

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.fail:
            raise httpx.ReadError("connection reset")


def test_retrieve_content_streams_to_the_output_path(make_hook: Any, tmp_path: Path) -> None:
    target = tmp_path / "out" / "content.jsonl"
    target.parent.mkdir()
    target.write_bytes(b"previous run")
    chunks = [b"x" * 65536 for _ in range(40)]
    operator = OpenAIManageFilesOperator(
        task_id="t", action="retrieve_content", file_id="file-1", output_path=str(target)
    )
    size = sum(map(len, chunks))
    result, script = run(make_hook, operator, ok({**FILE, "bytes": size}), httpx.Response(200, stream=Chunks(chunks)))
    assert result == str(target) and target.read_bytes() == b"".join(chunks)
    assert [r.url.path for r in script.requests] == ["/v1/files/file-1", "/v1/files/file-1/content"]
    assert [p.name for p in target.parent.iterdir()] == ["content.jsonl"]


def test_a_broken_download_leaves_no_file(make_hook: Any, tmp_path: Path) -> None:
    target = tmp_path / "content.jsonl"
    operator = OpenAIManageFilesOperator(
        task_id="t", action="retrieve_content", file_id="file-1", output_path=str(target)
    )
    with raises(APIConnectionError):
        run(make_hook, operator, ok(FILE), httpx.Response(200, stream=Chunks([b"partial"], fail=True)))
    assert list(tmp_path.iterdir()) == []


def test_content_past_the_declared_size_is_refused(make_hook: Any, tmp_path: Path) -> None:
    """The file object says 8 bytes; 200 KB arrive: refused past 8 bytes + 64 KiB, nothing written."""
    operator = OpenAIManageFilesOperator(
        task_id="t", action="retrieve_content", file_id="file-1", output_path=str(tmp_path / "out.jsonl")
    )
    with raises(APIResponseValidationError, match="larger than the 8 bytes the file is declared to hold"):
        run(make_hook, operator, ok(FILE), httpx.Response(200, stream=Chunks([b"y" * 65536] * 4)))
    assert list(tmp_path.iterdir()) == []


def test_retrieve_content_to_an_object_storage_uri(make_hook: Any, tmp_path: Path) -> None:
    uri = (tmp_path / "bucket" / "content.jsonl").as_uri()
    operator = OpenAIManageFilesOperator(task_id="t", action="retrieve_content", file_id="file-1", output_path=uri)
    result, _ = run(make_hook, operator, ok({**FILE, "bytes": 5}), httpx.Response(200, content=b"line\n"))
    assert result == uri and (tmp_path / "bucket" / "content.jsonl").read_bytes() == b"line\n"


@pytest.mark.parametrize(
    ("kwargs", "argument", "message"),
    [
        ({"action": "rename"}, "action", "must be one of"),
        ({"action": "retrieve"}, "file_id", "required with action='retrieve'"),
        ({"action": "delete", "file_id": ""}, "file_id", "required"),
        ({"action": "retrieve_content", "file_id": "f"}, "output_path", "required"),
        ({"action": "upload", "file": "x.jsonl"}, "purpose", "required"),
        ({"action": "upload", "purpose": "fine-tune"}, "file", "required"),
        ({"action": "upload", "file": "{tmp}/a.jsonl", "purpose": "fine-tunes"}, "purpose", "Input should be"),
        ({"action": "upload", "file": "{tmp}/missing.jsonl", "purpose": "batch"}, "file", "no such file"),
        ({"action": "upload", "file": "{tmp}/a.txt", "purpose": "fine-tune"}, "file", "accepted: jsonl"),
        ({"action": "upload", "file": "{tmp}/big.jsonl", "purpose": "batch"}, "file", "at most 200 MB"),
        ({"action": "upload", "file": "{tmp}/huge.pdf", "purpose": "user_data"}, "file", "at most 512 MB"),
        ({"action": "list", "limit": 0}, "limit", "must be a positive integer, got 0"),
        ({"action": "retrieve", "file_id": "file 1"}, "file_id", "got 'file 1'"),
    ],
)
def test_rejects_bad_input_before_any_request(
    make_hook: Any, tmp_path: Path, kwargs: dict[str, Any], argument: str, message: str
) -> None:
    (tmp_path / "a.jsonl").write_text("{}\n")
    (tmp_path / "a.txt").write_text("{}\n")
    sparse(tmp_path / "big.jsonl", 200 * 1024 * 1024 + 1)
    sparse(tmp_path / "huge.pdf", 512 * 1024 * 1024 + 1)
    arguments = {key: value.format(tmp=tmp_path) if isinstance(value, str) else value for key, value in kwargs.items()}
    operator = OpenAIManageFilesOperator(task_id="t", **arguments)
    script = Script(ok(FILE))
    operator.hook = make_hook(script)
    with raises(InvalidArgumentError, match=message) as info:
        operator.execute({})
    assert (info.value.argument, script.attempts) == (argument, 0)


def test_output_path_that_is_a_folder_is_refused(make_hook: Any, tmp_path: Path) -> None:
    operator = OpenAIManageFilesOperator(task_id="t", action="retrieve_content", file_id="f", output_path=str(tmp_path))
    script = Script(ok(FILE))
    operator.hook = make_hook(script)
    with raises(InvalidArgumentError, match="is a folder"):
        operator.execute({})
    assert script.attempts == 0

"""
Large uploads: above the single-request limit the files operator switches to the Uploads API on its own. The
limit and the part size are lowered here so that small files take the same path as a 2 GB one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion._http.request import FilePart
from airflow_provider_openai_fusion.api import files, uploads
from airflow_provider_openai_fusion.exceptions import BadRequestError, InvalidArgumentError
from airflow_provider_openai_fusion.operators import OpenAIManageFilesOperator
from tests.unit.helpers import error, ok, raises
from tests.unit.media import parts, sparse

LIMIT = 500
PART = 200


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", LIMIT)
    monkeypatch.setattr(uploads, "PART_BYTES", PART)


class UploadsServer:
    """A MockTransport handler playing the Uploads API; ``fail_part`` answers that part (by its first byte)."""

    def __init__(self, fail_part: bytes | None = None, complete_status: str = "completed") -> None:
        self.requests: list[httpx.Request] = []
        self.fail_part = fail_part
        self.complete_status = complete_status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        path = request.url.path
        upload = {"id": "upload_1", "object": "upload", "status": "pending", "bytes": 0, "filename": "x"}
        if path == "/v1/uploads":
            return ok({**upload, **json.loads(request.content)})
        if path.endswith("/parts"):
            data = parts(request)[0].data
            if data[:1] == self.fail_part:
                return error(500, "part store down")
            return ok({"id": f"part_{data[:1].decode()}", "object": "upload.part", "upload_id": "upload_1"})
        if path.endswith("/complete"):
            file = {"id": "file-big", "object": "file", "bytes": 1, "filename": "x", "purpose": "assistants"}
            return ok({**upload, "status": self.complete_status, "file": file})
        if path.endswith("/cancel"):
            return ok({**upload, "status": "cancelled"})
        return error(404, f"no route {path}")

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


def lettered(path: Path, size: int) -> bytes:
    """A file whose part ``i`` is filled with the letter ``A + i``, so each part can be told apart."""
    content = b"".join(
        bytes([65 + index]) * min(PART, size - offset) for index, offset in enumerate(range(0, size, PART))
    )
    path.write_bytes(content)
    return content


def upload(make_hook: Any, path: Path, server: UploadsServer, purpose: str = "assistants", **extra: Any) -> Any:
    operator = OpenAIManageFilesOperator(task_id="t", action="upload", file=str(path), purpose=purpose)
    operator.hook = make_hook(server, **extra)
    return operator.execute({})


def test_a_file_above_the_limit_goes_through_parts_completed_in_order(make_hook: Any, tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    content = lettered(source, 2 * PART + 150)
    server = UploadsServer()
    result = upload(make_hook, source, server)

    assert result["id"] == "file-big"
    create, *sent, complete = server.requests
    assert json.loads(create.content) == {
        "filename": "notes.md",
        "purpose": "assistants",
        "bytes": len(content),
        "mime_type": "text/markdown",
    }
    assert [request.url.path for request in sent] == ["/v1/uploads/upload_1/parts"] * 3
    received = sorted((part.name, part.data) for request in sent for part in parts(request))
    assert received == [("data", b"A" * PART), ("data", b"B" * PART), ("data", b"C" * 150)]
    assert json.loads(complete.content) == {
        "part_ids": ["part_A", "part_B", "part_C"],
        "md5": hashlib.md5(content).hexdigest(),
    }


def test_a_file_at_the_limit_is_one_request(make_hook: Any, tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(b"x" * LIMIT)

    def single(request: httpx.Request) -> httpx.Response:
        request.read()
        assert request.url.path == "/v1/files"
        return ok({"id": "file-1", "object": "file", "bytes": LIMIT})

    operator = OpenAIManageFilesOperator(task_id="t", action="upload", file=str(source), purpose="assistants")
    operator.hook = make_hook(single)
    assert operator.execute({})["id"] == "file-1"


def test_a_part_that_fails_for_good_cancels_the_upload(make_hook: Any, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    lettered(source, 3 * PART)
    server = UploadsServer(fail_part=b"B")
    with raises(Exception, match="part store down"):
        upload(make_hook, source, server, max_retries=1)
    paths = server.paths()
    assert paths[-1] == "/v1/uploads/upload_1/cancel" and "/v1/uploads/upload_1/complete" not in paths
    failed = [
        request for request in server.requests if request.url.path.endswith("/parts") and b"BBBB" in request.content
    ]
    assert len(failed) == 2  # the first try and the one retry of the hook


def test_a_refused_completion_cancels_the_upload(make_hook: Any, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    lettered(source, 3 * PART)

    class Refusing(UploadsServer):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            answer = super().__call__(request)
            return error(400, "md5 mismatch") if request.url.path.endswith("/complete") else answer

    server = Refusing()
    with raises(BadRequestError, match="md5 mismatch"):
        upload(make_hook, source, server)
    assert server.paths()[-1] == "/v1/uploads/upload_1/cancel"


def test_an_upload_that_does_not_complete_is_an_error(make_hook: Any, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    lettered(source, 3 * PART)
    with raises(Exception, match="did not complete: status 'expired'"):
        upload(make_hook, source, UploadsServer(complete_status="expired"))


@pytest.mark.parametrize(
    ("name", "size", "purpose", "message"),
    [
        ("huge.bin", uploads.MAX_UPLOAD_BYTES + 1, "assistants", "at most 8192 MB"),
        ("big.pdf", LIMIT + 1, "user_data", "at most"),
        ("train.txt", LIMIT + 1, "fine-tune", "unsupported format"),
    ],
)
def test_refused_before_anything_is_sent(
    make_hook: Any, tmp_path: Path, name: str, size: int, purpose: str, message: str
) -> None:
    source = sparse(tmp_path / name, size)
    server = UploadsServer()
    with raises(InvalidArgumentError, match=message):
        upload(make_hook, source, server, purpose=purpose)
    assert server.requests == []


def test_a_file_range_reads_only_its_bytes_and_rewinds(tmp_path: Path) -> None:
    source = tmp_path / "f.bin"
    source.write_bytes(bytes(range(256)))
    with FilePart("data", source, offset=10, length=20).open() as handle:
        assert handle.seek(0, 2) == 20 and handle.tell() == 20
        handle.seek(0)
        assert handle.read(5) == bytes(range(10, 15)) and handle.read() == bytes(range(15, 30))
        assert handle.read(1) == b""
        with pytest.raises(OSError):
            handle.fileno()
    with FilePart("data", source, offset=250).open() as handle:
        assert handle.read() == bytes(range(250, 256))

"""
Large uploads under faults, against the fault server playing the Uploads API: a connection reset in the middle
of one part re-sends that part only; a part that keeps failing cancels the upload; the parts are completed in
file order whatever order they finished in. The single-request limit and the part size are lowered so that a
1 MiB file takes the Uploads API path in four parts.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion.api import files, uploads
from airflow_provider_openai_fusion.exceptions import InternalServerError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import OpenAIManageFilesOperator
from tests.reliability.fault_server import Behaviour, FaultServer, Request, json_reply, openai_error

PART = 256 * 1024
LETTERS = b"ABCD"
UPLOAD = {"id": "upload_1", "object": "upload", "status": "pending", "bytes": 4 * PART, "filename": "big.bin"}


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 2 * PART)
    monkeypatch.setattr(uploads, "PART_BYTES", PART)


def letter(request: Request) -> str:
    """Which part a parts request carries: the first byte of its ``data`` field (after the part's headers)."""
    start = request.body.index(b"\r\n\r\n", request.body.index(b'name="data"')) + 4
    return request.body[start : start + 1].decode()


def uploads_api(failing: str | None = None) -> Callable[[Request], Behaviour]:
    """The Uploads API as the fault server plays it; the part ``failing`` always gets a 500."""

    def respond(request: Request) -> Behaviour:
        if request.target == "/v1/uploads":
            return json_reply(200, UPLOAD)
        if request.target.endswith("/parts"):
            if letter(request) == failing:
                return openai_error(500, "part store down", "server_error", None, retry_after_ms="10")
            return json_reply(200, {"id": f"part_{letter(request)}", "object": "upload.part", "upload_id": "upload_1"})
        if request.target.endswith("/complete"):
            file = {"id": "file-big", "object": "file", "bytes": 4 * PART, "filename": "big.bin"}
            return json_reply(200, {**UPLOAD, "status": "completed", "file": file})
        return json_reply(200, {**UPLOAD, "status": "cancelled"})

    return respond


def big_file(tmp_path: Path) -> tuple[Path, bytes]:
    content = b"".join(bytes([byte]) * PART for byte in LETTERS)
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    return path, content


def upload(hook: OpenAIFusionHook, path: Path) -> Any:
    operator = OpenAIManageFilesOperator(task_id="t", action="upload", file=str(path), purpose="assistants")
    operator.hook = hook
    try:
        return operator.execute({})
    finally:
        hook.close()


def parts_sent(server: FaultServer) -> list[Request]:
    return [request for request in server.requests if request.target.endswith("/parts")]


def test_a_reset_in_the_middle_of_a_part_resends_only_that_part(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    path, content = big_file(tmp_path)
    seen = []

    def cut_the_second_part(method: str, target: str, headers: dict[str, str]) -> int | None:
        if not target.endswith("/parts"):
            return None
        seen.append(target)
        return PART // 2 if len(seen) == 2 else None

    server.script(uploads_api())
    server.cut_requests(cut_the_second_part)
    result = upload(hook_at(server.base_url, max_retries=2), path)

    assert result["id"] == "file-big"
    cut = [request for request in parts_sent(server) if request.cut]
    assert len(cut) == 1 and len(cut[0].body) == PART // 2
    whole = [letter(request) for request in parts_sent(server) if not request.cut]
    assert sorted(whole) == list("ABCD")  # each part arrived whole once: only the cut one was sent again
    assert len(parts_sent(server)) == 5 and letter(cut[0]) in whole
    complete = next(request for request in server.requests if request.target.endswith("/complete"))
    assert complete.json() == {
        "part_ids": ["part_A", "part_B", "part_C", "part_D"],
        "md5": hashlib.md5(content).hexdigest(),
    }
    assert not any(request.target.endswith("/cancel") for request in server.requests)


def test_a_part_that_fails_after_the_retries_cancels_the_upload(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    path, _ = big_file(tmp_path)
    server.script(uploads_api(failing="C"))
    with pytest.raises(InternalServerError, match="part store down"):
        upload(hook_at(server.base_url, max_retries=2), path)
    targets = [request.target for request in server.requests]
    assert targets[-1] == "/v1/uploads/upload_1/cancel"
    assert not any(target.endswith("/complete") for target in targets)
    assert [letter(request) for request in parts_sent(server)].count("C") == 3  # the first try and two retries


def test_parts_are_completed_in_file_order_whatever_order_they_finish_in(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    """Part A is answered only once B, C and D have been (an event, not a pause): the completion lists A first."""
    path, _ = big_file(tmp_path)
    answered: list[str] = []
    others_answered = asyncio.Event()

    def record(part: str) -> None:
        answered.append(part)
        if sorted(answered) == list("BCD"):
            others_answered.set()

    def first_part_last(request: Request) -> Behaviour:
        if not request.target.endswith("/parts"):
            return uploads_api()(request)
        part = letter(request)
        return After(uploads_api()(request), others_answered if part == "A" else None, lambda: record(part))

    server.script(first_part_last)
    upload(hook_at(server.base_url), path)
    complete = next(request for request in server.requests if request.target.endswith("/complete"))
    assert complete.json()["part_ids"] == ["part_A", "part_B", "part_C", "part_D"]
    assert answered == [*answered[:3], "A"] and sorted(answered) == list("ABCD")


@dataclass(frozen=True)
class After(Behaviour):
    """Another behaviour, once ``event`` is set (at most 30 s: a missed event fails instead of hanging); ``then``
    runs just before it answers."""

    inner: Behaviour
    event: asyncio.Event | None
    then: Callable[[], None]

    async def act(self, writer: asyncio.StreamWriter) -> bool:
        if self.event is not None:
            await asyncio.wait_for(self.event.wait(), 30)
        self.then()
        return await self.inner.act(writer)

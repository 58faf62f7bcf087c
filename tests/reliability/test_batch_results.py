"""
A batch's output file whose download is reset mid-way: the download is restarted whole, and the joined results
hold every request once, in input order, with nothing half-written left behind. A hostile output file (lines for
ids never asked for, an oversized line, a line with a key injected after its body, no end at all) is bounded in
memory and disk and cannot change any request's result.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion.exceptions import APIResponseValidationError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import OpenAIBatchOperator
from tests.reliability.fault_server import (
    Behaviour,
    Endless,
    FaultServer,
    Reply,
    Request,
    ResetMidBody,
    Streamed,
    json_reply,
)
from tests.unit.fine_tuning_fake import context

REQUESTS = 2000
BATCH = {
    "id": "batch_1",
    "object": "batch",
    "endpoint": "/v1/embeddings",
    "input_file_id": "file-in",
    "completion_window": "24h",
    "created_at": 1,
    "status": "completed",
    "output_file_id": "file-out",
    "request_counts": {"total": REQUESTS, "completed": REQUESTS, "failed": 0},
}


def output_file() -> bytes:
    """The results of every request, shuffled, each with a 256-dimension vector (about 1.4 MB in all)."""
    lines = []
    for n in range(REQUESTS):
        body = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [n / 7] * 256}]}
        response = {"status_code": 200, "request_id": f"req_{n}", "body": body}
        lines.append(json.dumps({"id": f"r{n}", "custom_id": f"request-{n}", "response": response, "error": None}))
    random.Random(3).shuffle(lines)
    return ("\n".join(lines) + "\n").encode()


def test_a_reset_mid_download_of_the_output_file_loses_and_repeats_nothing(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    content = output_file()
    downloads: list[Request] = []

    def answer(request: Request) -> Behaviour:
        if request.target == "/v1/files":
            return json_reply(200, {"id": "file-in", "object": "file", "purpose": "batch"})
        if request.target == "/v1/batches":
            return json_reply(200, {**BATCH, "status": "validating", "output_file_id": None})
        if request.target == "/v1/batches/batch_1":
            return json_reply(200, BATCH)
        if request.target == "/v1/files/file-out":
            return json_reply(200, {"id": "file-out", "object": "file", "bytes": len(content)})
        assert request.target == "/v1/files/file-out/content", request.target
        downloads.append(request)
        if len(downloads) == 1:
            return ResetMidBody(content, len(content) // 2)
        return Reply(200, {"Content-Type": "application/octet-stream"}, content)

    server.script(answer)
    output = tmp_path / "results" / "vectors.jsonl"
    task = OpenAIBatchOperator(
        task_id="batch",
        endpoint="/v1/embeddings",
        requests=[{"model": "text-embedding-3-small", "input": f"text {n}"} for n in range(REQUESTS)],
        output_path=str(output),
        poll_interval=0.01,
    )
    task.hook = hook_at(server.base_url, max_retries=2)
    result = task.execute(context())
    assert len(downloads) == 2
    lines = [json.loads(line) for line in output.read_bytes().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"request-{n}" for n in range(REQUESTS)]
    assert all(line["response"]["body"]["data"][0]["embedding"][0] == n / 7 for n, line in enumerate(lines))
    assert result["counts"] == {"total": REQUESTS, "succeeded": REQUESTS, "failed": 0, "expired": 0}
    assert sorted(path.name for path in output.parent.iterdir()) == ["vectors.jsonl"]
    assert sum(1 for request in server.requests if request.target == "/v1/batches") == 1


def _run_batch(
    server: FaultServer,
    hook: OpenAIFusionHook,
    tmp_path: Path,
    content: Behaviour,
    requests: int,
    endpoint: str = "/v1/embeddings",
    declared: int | None = None,
) -> tuple[dict[str, Any], Path]:
    batch = {**BATCH, "endpoint": endpoint, "request_counts": {"total": requests, "completed": requests, "failed": 0}}

    def answer(request: Request) -> Behaviour:
        if request.target == "/v1/files":
            return json_reply(200, {"id": "file-in", "object": "file", "purpose": "batch"})
        if request.target == "/v1/batches":
            return json_reply(200, {**batch, "status": "validating", "output_file_id": None})
        if request.target == "/v1/batches/batch_1":
            return json_reply(200, batch)
        if request.target == "/v1/files/file-out":
            return json_reply(200, {"id": "file-out", "object": "file", "bytes": declared})
        assert request.target == "/v1/files/file-out/content", request.target
        return content

    server.script(answer)
    output = tmp_path / "results" / "out.jsonl"
    body = (
        {"model": "text-embedding-3-small", "input": "t"}
        if endpoint == "/v1/embeddings"
        else {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "q"}]}
    )
    task = OpenAIBatchOperator(
        task_id="batch",
        endpoint=endpoint,
        requests=[body] * requests,
        output_path=str(output),
        poll_interval=0.01,
    )
    task.hook = hook
    return task.execute(context()), output


def _status_mib(field: str) -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1)) / 1024  # type: ignore[union-attr]


def test_a_hostile_output_file_is_bounded_and_cannot_change_a_result(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    """
    300,000 lines for custom ids never asked for (not indexed), a 70 MiB line in another key order (an error row,
    never read whole), and a line whose body closes early so that an added ``custom_id`` and ``response`` would
    make a JSON parser read it as another request with status 500 (an error row, the other request untouched).
    """
    vector = ", ".join(["0.125"] * 200)
    injected = (
        '{"id": "x", "custom_id": "request-1", "response": {"status_code": 200, "request_id": "r", "body": {"v": ['
        + vector
        + ']}}, "custom_id": "request-2", "response": {"status_code": 500, "body": {"w": ['
        + vector
        + ']}}, "error": null}\n'
    )
    strangers = b"".join(
        b'{"id": "s", "custom_id": "stranger-%d", "response": {"status_code": 200, "request_id": "r", "body": {}}, '
        b'"error": null}\n' % n
        for n in range(300_000)
    )
    huge = b'{"custom_id": "request-0", "response": {"status_code": 200, "body": {"t": "%s"}}}\n' % (b"y" * (70 << 20))
    good = json.dumps(
        {"id": "g", "custom_id": "request-2", "response": {"status_code": 200, "request_id": "r", "body": {"ok": 1}}}
        | {"error": None}
    )
    content = strangers + huge + injected.encode() + good.encode() + b"\n"
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    result, output = _run_batch(server, hook_at(server.base_url), tmp_path, Streamed(content), 3, declared=len(content))
    growth = _status_mib("VmHWM") - before
    lines = [json.loads(line) for line in output.read_bytes().splitlines()]
    assert [line["custom_id"] for line in lines] == ["request-0", "request-1", "request-2"]
    assert lines[0]["error"]["code"] == "result_line_too_large"
    assert lines[1]["error"]["code"] == "result_line_invalid" and "appears twice" in lines[1]["error"]["message"]
    assert lines[2]["response"]["body"] == {"ok": 1}
    assert result["counts"] == {"total": 3, "succeeded": 1, "failed": 2, "expired": 0}
    assert growth < 48, f"peak RSS grew {growth:.0f} MiB for a {len(content) >> 20} MiB file"


def test_a_result_file_larger_than_its_requests_can_produce_is_refused(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    """One chat request can produce at most a 16 MiB line: an endless output file is cut there, nothing written."""
    endless = Endless()
    with pytest.raises(APIResponseValidationError, match="larger than the 16,777,216-byte cap"):
        _run_batch(server, hook_at(server.base_url), tmp_path, endless, 1, endpoint="/v1/chat/completions")
    assert 16 << 20 < endless.sent < 32 << 20
    assert not (tmp_path / "results" / "out.jsonl").exists()

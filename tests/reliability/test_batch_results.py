"""
A batch's output file whose download is reset mid-way: the download is restarted whole, and the joined results
hold every request once, in input order, with nothing half-written left behind.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import OpenAIBatchOperator
from tests.reliability.fault_server import Behaviour, FaultServer, Reply, Request, ResetMidBody, json_reply
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
    assert all(line["response"]["data"][0]["embedding"][0] == n / 7 for n, line in enumerate(lines))
    assert result["counts"] == {"total": REQUESTS, "succeeded": REQUESTS, "failed": 0, "expired": 0}
    assert sorted(path.name for path in output.parent.iterdir()) == ["vectors.jsonl"]
    assert sum(1 for request in server.requests if request.target == "/v1/batches") == 1

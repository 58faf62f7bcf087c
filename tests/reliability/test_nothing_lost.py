"""
Nothing is lost: a retried upload re-sends the whole file from its start, and a download that breaks mid-way
never leaves a half-written file at the output path (it is written under a temporary name and renamed whole).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_openai_fusion.api import files
from airflow_provider_openai_fusion.exceptions import APIConnectionError, APITimeoutError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from tests.reliability.conftest import run_both
from tests.reliability.fault_server import (
    Behaviour,
    FaultServer,
    Reply,
    Request,
    ResetBeforeResponse,
    ResetMidBody,
    Stall,
    Truncated,
    json_reply,
    openai_error,
)

MODES = ["sync", "async"]
FILE_OBJECT = {"id": "file-abc", "object": "file", "bytes": 0, "filename": "train.jsonl", "purpose": "fine-tune"}
CONTENT = os.urandom(3 * (1 << 20) + 12345)


def _content_reply() -> Reply:
    return Reply(200, {"Content-Type": "application/octet-stream"}, CONTENT)


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize("mode", MODES)
def test_retried_upload_resends_the_whole_file(
    mode: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    source = tmp_path / "train.jsonl"
    source.write_bytes(b"".join(b'{"messages": [{"role": "user", "content": "%d"}]}\n' % i for i in range(20000)))
    retry_soon = openai_error(503, "overloaded", "server_error", None, retry_after_ms="10")
    server.script(retry_soon, ResetBeforeResponse(), json_reply(200, FILE_OBJECT))
    result = run_both(
        mode,
        hook_at(server.base_url),
        lambda hook: hook.request(files.upload_file(source, "fine-tune")),
        lambda hook: hook.arequest(files.upload_file(source, "fine-tune")),
    )
    assert result == FILE_OBJECT
    assert server.attempts == 3
    data = source.read_bytes()
    for request in server.requests:
        assert request.target == "/v1/files"
        assert int(request.headers["content-length"]) == len(request.body)
        assert request.body.count(data) == 1, "each attempt carries the file whole, from its first byte"
        assert b'name="purpose"\r\n\r\nfine-tune' in request.body


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "first",
    [ResetMidBody(CONTENT, 2 * (1 << 20)), Truncated(CONTENT, 2 * (1 << 20))],
    ids=["reset mid-body", "truncated"],
)
def test_broken_download_is_restarted_whole(
    mode: str, first: Behaviour, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    target = tmp_path / "out" / "content.bin"
    server.script(first, _content_reply())
    written = run_both(
        mode,
        hook_at(server.base_url),
        lambda hook: hook.download(files.retrieve_file_content("file-abc"), target),
        lambda hook: hook.adownload(files.retrieve_file_content("file-abc"), target),
    )
    assert written == target
    assert target.read_bytes() == CONTENT
    assert server.attempts == 2
    assert [request.target for request in server.requests] == ["/v1/files/file-abc/content"] * 2
    assert _leftovers(target.parent) == ["content.bin"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("fault", "error", "timeout"),
    [
        (ResetMidBody(CONTENT, 2 * (1 << 20)), APIConnectionError, 5.0),
        (Truncated(CONTENT, 2 * (1 << 20)), APIConnectionError, 5.0),
        (Stall(CONTENT, 2 * (1 << 20)), APITimeoutError, 0.5),
    ],
    ids=["reset mid-body", "truncated", "stalled"],
)
@pytest.mark.parametrize("existing", [False, True], ids=["new file", "older file there"])
def test_failed_download_leaves_no_half_file(
    mode: str,
    fault: Behaviour,
    error: type[Exception],
    timeout: float,
    existing: bool,
    server: FaultServer,
    hook_at: Callable[..., OpenAIFusionHook],
    tmp_path: Path,
) -> None:
    target = tmp_path / "content.bin"
    if existing:
        target.write_bytes(b"the previous, complete content")
    server.script(fault)
    with pytest.raises(error):
        run_both(
            mode,
            hook_at(server.base_url, timeout=timeout, max_retries=0),
            lambda hook: hook.download(files.retrieve_file_content("file-abc"), target),
            lambda hook: hook.adownload(files.retrieve_file_content("file-abc"), target),
        )
    assert server.attempts == 1
    if existing:
        assert target.read_bytes() == b"the previous, complete content"
        assert _leftovers(tmp_path) == ["content.bin"]
    else:
        assert _leftovers(tmp_path) == []


class FlakyEmbeddings:
    """Answers embedding requests with one vector per input (the vector encodes the input), in shuffled order;
    the first attempts of some requests fail (keyed by the request's first input)."""

    def __init__(self, faults: dict[str, list[Reply]]) -> None:
        self.faults = faults
        self.answered: list[str] = []

    def __call__(self, request: Request) -> Reply:
        texts = request.json()["input"]
        if pending := self.faults.get(texts[0]):
            return pending.pop(0)
        self.answered += texts
        items = [
            {"object": "embedding", "index": i, "embedding": [float(text[5:]), 0.5]} for i, text in enumerate(texts)
        ]
        random.Random(len(texts)).shuffle(items)
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return json_reply(200, {"object": "list", "data": items, "model": "text-embedding-3-small", "usage": usage})


def test_embeddings_over_many_retried_requests_come_back_whole_and_in_order(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    from airflow_provider_openai_fusion.operators.embeddings import OpenAIEmbeddingsOperator

    texts = [f"text-{i}" for i in range(10_000)]
    soon = {"retry-after-ms": "10"}
    flaky = FlakyEmbeddings(
        {
            "text-0": [Reply(503, soon)],
            "text-4096": [ResetBeforeResponse(), Reply(500, soon)],
            "text-6144": [Reply(429, soon), Reply(429, soon), Truncated(b'{"object": "list", "data": []}', 10)],
            "text-8192": [ResetMidBody(b'{"object": "list", "data": []}' * 100, 100)],
        }
    )
    server.script(flaky)
    operator = OpenAIEmbeddingsOperator(
        task_id="embed", model="text-embedding-3-small", input=texts, dimensions=2, max_concurrency=3
    )
    operator.hook = hook_at(server.base_url, max_retries=3)
    result = operator.execute(context={})

    assert [item["index"] for item in result["data"]] == list(range(len(texts)))
    assert [item["embedding"][0] for item in result["data"]] == [float(i) for i in range(len(texts))]
    assert sorted(flaky.answered, key=lambda text: int(text[5:])) == texts, "every input answered exactly once"
    assert result["usage"] == {"prompt_tokens": len(texts), "total_tokens": len(texts)}
    requests = len({request.json()["input"][0] for request in server.requests})
    assert requests == 5
    assert server.attempts == requests + 7

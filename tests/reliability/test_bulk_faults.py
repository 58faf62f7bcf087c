"""
Bulk mode against a loopback server that misbehaves per item: a key echoed in an error, a doubly gzipped answer, a
stalled answer, a 429 with Retry-After. Each item's line says what happened; nothing else is lost or resent, no
line holds the key, and the run ends within its bound.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator
from tests.conftest import SENTINEL_KEY
from tests.reliability.fault_server import Behaviour, FaultServer, Reply, Request, Stall, json_reply, openai_error

ITEMS = ["plain 0", "echo", "plain 1", "double gzip", "stall", "plain 2", "busy", "plain 3", "echo in answer"]


def answer(text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text.upper()}
    usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    return {
        "id": f"c-{text}",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-5.6-luna",
        "usage": usage,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


class PerItem:
    """Answers each chat request by its user text; a ``busy`` item gets one 429 first, then its answer."""

    def __init__(self) -> None:
        self.busy_seen = 0

    def __call__(self, request: Request) -> Behaviour:
        text = request.json()["messages"][-1]["content"]
        if text == "echo":
            return openai_error(400, f"bad key {SENTINEL_KEY} in request", "invalid_request_error", "bad")
        if text == "double gzip":
            body = gzip.compress(gzip.compress(json.dumps(answer(text)).encode()))
            return Reply(200, {"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"}, body)
        if text == "stall":
            return Stall(seconds=30)
        if text == "echo in answer":  # a 200 whose text holds the key: the line keeps the answer, not the key
            echoed = answer(text)
            echoed["choices"][0]["message"]["content"] = f"your key is {SENTINEL_KEY}"
            return json_reply(200, echoed)
        if text == "busy" and not self.busy_seen:
            self.busy_seen += 1
            return openai_error(429, "slow down", "rate_limit", None, retry_after_ms="10")
        return json_reply(200, answer(text))


def test_each_item_gets_its_own_outcome_and_nothing_leaks(server: FaultServer, hook_at: Any, tmp_path: Path) -> None:
    server.script(PerItem())
    out = tmp_path / "out.jsonl"
    task = OpenAIChatCompletionOperator(
        task_id="bulk", model="gpt-5.6-luna", items=ITEMS, output_path=str(out), on_error="record", max_concurrency=4
    )
    task.hook = hook_at(server.base_url, timeout=2.0, max_retries=1)
    started = time.monotonic()
    result = task.execute({})
    elapsed = time.monotonic() - started
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"item-{n}" for n in range(len(ITEMS))]
    failed = {ITEMS[n] for n, line in enumerate(lines) if line["error"]}
    assert failed == {"echo", "double gzip", "stall"}
    answered = [line["response"]["body"]["choices"][0]["message"]["content"] for line in lines if not line["error"]]
    assert answered[:5] == ["PLAIN 0", "PLAIN 1", "PLAIN 2", "BUSY", "PLAIN 3"]
    assert answered[5].startswith("your key is ") and len(answered) == 6
    assert (result["succeeded"], result["failed"], result["not_sent"]) == (6, 3, 0)
    texts = [request.json()["messages"][-1]["content"] for request in server.requests]
    assert texts.count("echo") == 1 and texts.count("busy") == 2 and texts.count("plain 0") == 1
    assert texts.count("stall") == 2  # a read timeout is retried once (max_retries=1), then recorded
    assert SENTINEL_KEY not in out.read_text() and SENTINEL_KEY not in json.dumps(result)
    assert elapsed < 2 * 2.0 + 5  # two stalled attempts of at most the 2 s timeout each, plus slack


def test_a_bulk_run_keeps_its_connections_alive_across_the_whole_run(
    server: FaultServer, hook_at: Any, tmp_path: Path
) -> None:
    """
    One set of clients serves the whole run, each with as many kept-alive connections as it has workers: the
    server accepts at most ``max_concurrency`` connections for 1,200 requests (the run used to open a client per
    window, and httpx's pool of 20 kept-alive connections closed and reopened them at a concurrency of 32).
    """
    server.script(lambda request: json_reply(200, answer(request.json()["messages"][-1]["content"])))
    out = tmp_path / "out.jsonl"
    items = [f"plain {n}" for n in range(1200)]
    task = OpenAIChatCompletionOperator(
        task_id="bulk", model="gpt-5.6-luna", items=items, output_path=str(out), max_concurrency=32
    )
    task.hook = hook_at(server.base_url)
    result = task.execute({})
    assert (result["succeeded"], len(server.requests)) == (1200, 1200)
    assert 1 <= server.connections <= 32
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["response"]["body"]["id"] for line in lines] == [f"c-plain {n}" for n in range(1200)]

"""
Bounded load: 1,000 chat completions at concurrency 50 through one async client, against a server that
answers 10 % of requests with 503 and 5 % with 429. Every one succeeds, none is lost or duplicated, and the
run ends in bounded time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable

from airflow_provider_openai_fusion.api import chat
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from tests.reliability.fault_server import FaultServer, Reply, Request, json_reply, openai_error

REQUESTS = 1000
CONCURRENCY = 50
TIME_BOUND = 30.0


class FlakyCompletions:
    """Answers each request with its own completion, except every 10th attempt with 503 and every 20th with 429."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self.served: Counter[str] = Counter()

    def __call__(self, request: Request) -> Reply:
        tag = request.json()["messages"][0]["content"]
        with self.lock:
            attempt = sum(self.outcomes.values())
            outcome = "503" if attempt % 10 == 3 else "429" if attempt % 20 == 7 else "200"
            self.outcomes[outcome] += 1
            if outcome == "200":
                self.served[tag] += 1
        if outcome == "503":
            return openai_error(503, "overloaded", "server_error", None, retry_after_ms="20")
        if outcome == "429":
            return openai_error(429, "slow down", "requests", "rate_limit_exceeded", retry_after_ms="50")
        message = {"role": "assistant", "content": tag}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        completion = {"id": f"chatcmpl-{tag}", "object": "chat.completion", "choices": [choice], "echo": tag}
        return json_reply(200, completion)


def test_thousand_requests_at_concurrency_fifty(server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]) -> None:
    flaky = FlakyCompletions()
    server.script(flaky)
    hook = hook_at(server.base_url, timeout=10.0, max_retries=8)
    in_flight = peak = 0

    async def one(index: int, gate: asyncio.Semaphore) -> dict:
        nonlocal in_flight, peak
        async with gate:
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"req-{index}"}]}
                return await hook.arequest(chat.create_chat_completion(body))
            finally:
                in_flight -= 1

    async def run() -> list[dict]:
        gate = asyncio.Semaphore(CONCURRENCY)
        try:
            return await asyncio.gather(*(one(index, gate) for index in range(REQUESTS)))
        finally:
            await hook.aclose()

    started = time.monotonic()
    results = asyncio.run(asyncio.wait_for(run(), TIME_BOUND))
    elapsed = time.monotonic() - started

    assert [result["echo"] for result in results] == [f"req-{index}" for index in range(REQUESTS)]
    assert set(flaky.served) == {f"req-{index}" for index in range(REQUESTS)}
    assert set(flaky.served.values()) == {1}, "no request was answered twice"
    assert flaky.outcomes["200"] == REQUESTS
    assert server.attempts == REQUESTS + flaky.outcomes["503"] + flaky.outcomes["429"]
    assert flaky.outcomes["503"] == server.attempts // 10 + (server.attempts % 10 > 3)
    assert flaky.outcomes["429"] == server.attempts // 20 + (server.attempts % 20 > 7)
    assert peak == CONCURRENCY
    print(f"load: {server.attempts} attempts ({dict(flaky.outcomes)}), peak {peak}, {elapsed:.1f} s")

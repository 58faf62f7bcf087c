"""
Unattended runs end: against servers that announce tiny rate limits, and against jobs that never finish, each
call completes or fails clearly within its bound, counting the requests it took.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators.embeddings import OpenAIEmbeddingsOperator
from tests.reliability.fault_server import FaultServer, Reply, Request, json_reply

INPUTS_PER_REQUEST = 2048
REQUESTS = 8


class TinyLimits:
    """
    An embeddings server that allows ``limit`` of ``kind`` (requests, or tokens counted one per input) per fixed
    window of ``window`` seconds, says so in ``x-ratelimit-*`` headers, and answers 429 past it.
    """

    def __init__(self, kind: str, limit: int, window: float = 1.0) -> None:
        self.kind, self.limit, self.window = kind, limit, window
        self.started, self.used = time.monotonic(), 0
        self.answered: list[str] = []
        self.refused = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        texts = request.json()["input"]
        cost = 1 if self.kind == "requests" else len(texts)
        with self._lock:
            now = time.monotonic()
            if now - self.started >= self.window:
                self.started, self.used = now, 0
            reset_ms = max(int((self.started + self.window - now) * 1000), 1)
            if self.used + cost > self.limit:
                self.refused += 1
                return json_reply(429, {"error": {"message": "slow down"}}, retry_after_ms=str(reset_ms))
            self.used += cost
            self.answered += texts
            remaining = self.limit - self.used
        items = [{"object": "embedding", "index": i, "embedding": [float(t[5:]), 0.5]} for i, t in enumerate(texts)]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        answer = {"object": "list", "data": items, "model": "text-embedding-3-small", "usage": usage}
        limits = {
            f"x-ratelimit-limit-{self.kind}": str(self.limit),
            f"x-ratelimit-remaining-{self.kind}": str(remaining),
            f"x-ratelimit-reset-{self.kind}": f"{reset_ms}ms",
        }
        return json_reply(200, answer, **{name.replace("-", "_"): value for name, value in limits.items()})


@pytest.mark.parametrize(("kind", "limit"), [("requests", 2), ("tokens", 2 * INPUTS_PER_REQUEST)])
def test_embeddings_against_tiny_announced_limits_complete_after_a_first_burst_over_them(
    kind: str, limit: int, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """
    Four requests go before any answer (``max_concurrency=4``), twice what the server allows: the gate used to
    stay shut for good after them. Sends older than the window age out, so all 8 requests are answered, paced.
    """
    texts = [f"text-{i}" for i in range(REQUESTS * INPUTS_PER_REQUEST)]
    tiny = TinyLimits(kind, limit)
    server.script(tiny)
    operator = OpenAIEmbeddingsOperator(
        task_id="embed", model="text-embedding-3-small", input=texts, dimensions=2, max_concurrency=4
    )
    operator.hook = hook_at(server.base_url, max_retries=5)
    started = time.monotonic()
    result = operator.execute(context={})
    elapsed = time.monotonic() - started

    assert [item["embedding"][0] for item in result["data"]] == [float(i) for i in range(len(texts))]
    assert sorted(tiny.answered, key=lambda text: int(text[5:])) == texts, "every input answered exactly once"
    assert server.attempts == REQUESTS + tiny.refused
    assert tiny.refused <= 4, "only the first burst, sent before any answer, may overrun the limit"
    assert elapsed < 60, f"{elapsed:.1f} s for 8 requests at 2 per second: the gate must not stay shut"

"""Fixtures of the reliability tests: the fault server, hooks pointed at it, and sync/async call helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from tests.conftest import SENTINEL_KEY, connection_json
from tests.reliability.fault_server import FaultServer, running_fault_server

CONN_ID = "openai_fusion_reliability"
SLACK = 5.0
"""Seconds added to every wall-clock upper bound: on a loaded 2-core CI machine a wait runs late, never early.
Upper bounds are kept only where time is the point (a deadline cuts a trickle or a stall that would last 10 s or
more); lower bounds need no slack."""


@pytest.fixture
def server() -> Iterator[FaultServer]:
    """A fault server of the test's own."""
    with running_fault_server() as fault_server:
        yield fault_server


@pytest.fixture
def hook_at(monkeypatch: pytest.MonkeyPatch) -> Callable[..., OpenAIFusionHook]:
    """Build a hook on an env-var connection whose Base URL is ``base_url`` and whose key is the sentinel."""

    def factory(base_url: str, *, timeout: float = 5.0, max_retries: int = 2, **extra: Any) -> OpenAIFusionHook:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_json(base_url, SENTINEL_KEY, **extra))
        return OpenAIFusionHook(CONN_ID, timeout=timeout, max_retries=max_retries)

    return factory


def run_both(
    mode: str,
    hook: OpenAIFusionHook,
    sync_call: Callable[[OpenAIFusionHook], Any],
    async_call: Callable[[OpenAIFusionHook], Awaitable[Any]],
) -> Any:
    """Run the sync or the async twin of a hook call (in a fresh event loop), closing the client after."""
    if mode == "sync":
        try:
            return sync_call(hook)
        finally:
            hook.close()

    async def run() -> Any:
        try:
            return await async_call(hook)
        finally:
            await hook.aclose()

    return asyncio.run(run())

"""Shared helpers of the unit tests: scripted MockTransport handlers and a key-checking ``pytest.raises``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import SENTINEL_KEY

Reply = httpx.Response | Exception


class Script:
    """
    A MockTransport handler that answers with ``replies`` in order (an exception is raised instead) and records
    every request it received, with its body read.

    :param replies: the answers, one per attempt; the last one repeats.
    """

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def attempts(self) -> int:
        """How many requests arrived."""
        return len(self.requests)


def error(status: int, message: str = "boom", **headers: str) -> httpx.Response:
    """An OpenAI-style error answer; ``headers`` use ``_`` for ``-``."""
    body = {"error": {"message": message, "type": "test_error", "code": None, "param": None}}
    return httpx.Response(status, json=body, headers={k.replace("_", "-"): v for k, v in headers.items()})


def ok(payload: Any = None) -> httpx.Response:
    """A 200 JSON answer."""
    return httpx.Response(200, json={"ok": True} if payload is None else payload)


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    """An exception and its causes and contexts."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


@contextmanager
def raises(cls: type[BaseException], match: str | None = None) -> Iterator[pytest.ExceptionInfo[Any]]:
    """``pytest.raises`` that also checks that no exception of the chain shows the API key."""
    with pytest.raises(cls, match=match) as info:
        yield info
    for exc in chain(info.value):
        assert SENTINEL_KEY not in str(exc), type(exc).__name__
        assert SENTINEL_KEY not in repr(exc), type(exc).__name__


async def send(hook: Any, spec: Any, mode: str) -> Any:
    """Send ``spec`` through ``hook.request`` or ``hook.arequest``, as ``mode`` says."""
    return hook.request(spec) if mode == "sync" else await hook.arequest(spec)

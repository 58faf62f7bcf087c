"""The rate-limit gate: bulk callers pace themselves by the server's ``x-ratelimit-*`` headers."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

MAX_RATE_LIMIT_WAIT = 60.0
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str | None) -> float | None:
    """
    Read an ``x-ratelimit-reset-*`` header such as ``1s``, ``20ms``, ``6m0s`` or ``1h2m3.5s`` as seconds.

    :param value: the header's value; ``None`` or an unreadable value gives ``None``.
    """
    if not value:
        return None
    text = value.strip()[:64]
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        try:
            return max(float(text), 0.0)
        except ValueError:
            return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


class RateLimitGate:
    """
    Holds requests back while the server says none are left: when an answer carries
    ``x-ratelimit-remaining-requests: 0``, nothing more is sent until ``x-ratelimit-reset-requests`` has passed
    (capped at :data:`MAX_RATE_LIMIT_WAIT` seconds).

    :param sleep: the coroutine that waits (``asyncio.sleep``; a recorder in tests).
    :param clock: a monotonic clock in seconds.
    """

    def __init__(
        self,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        self.not_before = 0.0

    async def wait(self) -> None:
        """Wait until requests may be sent again."""
        while (delay := self.not_before - self._clock()) > 0:
            await self._sleep(delay)

    def observe(self, headers: Mapping[str, str]) -> float:
        """
        Read an answer's rate-limit headers; return how long requests are now held back (0 if they are not).

        :param headers: the response headers (lower-cased names).
        """
        if headers.get("x-ratelimit-remaining-requests", "").strip() != "0":
            return 0.0
        reset = parse_reset(headers.get("x-ratelimit-reset-requests"))
        delay = min(reset if reset is not None else 1.0, MAX_RATE_LIMIT_WAIT)
        self.not_before = max(self.not_before, self._clock() + delay)
        return delay

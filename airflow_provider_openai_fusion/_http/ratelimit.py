"""
The rate-limit gate: bulk callers pace themselves by the limits the server announces.

OpenAI (and compatible servers) send with each answer, for requests and for tokens, ``x-ratelimit-limit-*`` (the
budget), ``x-ratelimit-remaining-*`` (what is left of it) and ``x-ratelimit-reset-*`` (the time until the budget
is whole again). The gate turns each answer into a lower bound of what is left now: the remaining budget (or the
whole budget once its reset time has passed) minus what was sent after that request, and minus what was sent just
before it (the server may have counted those after it). It lets a request go only while the best of these bounds
covers its cost, so a server that enforces its announced limits (a token bucket, a fixed or a sliding window)
answers no 429. Before the first answer nothing is known, and requests go unhindered; a server that announces
what remains but not its limit is taken to have no limit once its reset time has passed.

A request stops counting against a budget once it is older than the budget's window: the longest time the server
has implied a whole budget takes to come back (a reset of ``r`` seconds with ``remaining`` of ``limit`` left
means ``r * limit / (limit - remaining)``, exact for a token bucket and at least the window of a fixed window
seen from its start), at most :data:`MAX_RATE_LIMIT_WAIT`. Without that, a first burst larger than the limit (the
requests sent before any answer) would keep every bound below zero for good, and the gate would wait forever.
Whatever happens, :meth:`RateLimitGate.acquire` gives up after ``max_wait`` seconds (default
:data:`MAX_GATE_WAIT`) with an error that says what the server announced.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_openai_fusion.exceptions import APITimeoutError

MAX_RATE_LIMIT_WAIT = 60.0
MAX_GATE_WAIT = 300.0
DEFAULT_RESET = 1.0
RECHECK = 0.05
MIN_WAIT = 0.001
SETTLE = 0.01
MAX_VIEWS = 64
BUDGETS = ("requests", "tokens")
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
            seconds = float(text)
        except ValueError:
            return None
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _count(value: str | None) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and number >= 0 else None


@dataclass(frozen=True)
class Ticket:
    """
    One request let through by :meth:`RateLimitGate.acquire`.

    :param sent: for each budget, the cost sent through this request (its own included).
    :param unseen: for each budget, the cost sent within :data:`SETTLE` seconds before it.
    :param waited: the seconds it was held back.
    """

    sent: Mapping[str, float]
    unseen: Mapping[str, float]
    waited: float


@dataclass(frozen=True)
class _View:
    """
    What one answer said of a budget. ``counted`` is the cost sent before the requests it may not have seen (the
    budget's running total minus the requests sent after it and those within :data:`SETTLE` before it).
    """

    remaining: float
    whole_at: float
    counted: float


class _Budget:
    """
    One announced limit (requests or tokens): the server's views of it, the cost sent so far (a running total),
    and the recent sends, which age out after the window.
    """

    def __init__(self) -> None:
        self.limit: float | None = None
        self.window: float | None = None
        self.sent = 0.0
        self.aged = 0.0
        self.recent: deque[tuple[float, float]] = deque()
        self.views: list[_View] = []

    def send(self, cost: float, now: float) -> None:
        """Count ``cost`` as sent at ``now``."""
        self.sent += cost
        self.recent.append((now, self.sent))

    def age(self, now: float) -> None:
        """Forget the sends older than the window (:data:`MAX_RATE_LIMIT_WAIT` until a reset is announced)."""
        window = self.window if self.window is not None else MAX_RATE_LIMIT_WAIT
        while self.recent and now - self.recent[0][0] >= window:
            self.aged = self.recent.popleft()[1]

    def available(self, now: float) -> float:
        """The most that can surely be sent now (infinite before the first answer)."""
        if self.limit is None or not self.views:
            return math.inf
        self.age(now)
        return max(
            (self.limit if now >= view.whole_at else view.remaining) - (self.sent - max(view.counted, self.aged))
            for view in self.views
        )

    def next_change(self, now: float) -> float | None:
        """When a view's budget is next whole again or the oldest counted send ages out, if either is to come."""
        changes = [view.whole_at for view in self.views if view.whole_at > now]
        if self.recent and self.window is not None:
            changes.append(self.recent[0][0] + self.window)
        return min(changes, default=None)

    def add(self, view: _View, wait: float, now: float) -> None:
        """Keep ``view`` (whose budget is whole ``wait`` s from now); drop the views that can no longer be best."""
        assert self.limit is not None
        used = self.limit - view.remaining
        whole_in = wait * self.limit / used if math.isfinite(self.limit) and used > 0 else wait
        self.window = min(max(self.window or 0.0, whole_in), MAX_RATE_LIMIT_WAIT)
        whole = [v for v in [*self.views, view] if v.whole_at <= now]
        waiting = [v for v in [*self.views, view] if v.whole_at > now]
        best_whole = max(whole, key=lambda v: v.counted, default=None)
        self.views = ([best_whole] if best_whole else []) + waiting[-MAX_VIEWS:]


class RateLimitGate:
    """
    Paces the requests of one bulk run by the server's ``x-ratelimit-*`` headers (see the module docstring).

    :param sleep: the coroutine that waits (``asyncio.sleep``; a recorder in tests).
    :param clock: a monotonic clock in seconds.
    :param max_wait: the most seconds :meth:`acquire` holds one request back before it fails.
    """

    def __init__(
        self,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_wait: float = MAX_GATE_WAIT,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        self._max_wait = max_wait
        self._budgets = {name: _Budget() for name in BUDGETS}
        self._recent: deque[tuple[float, dict[str, float]]] = deque()

    def _costs(self, tokens: int) -> dict[str, float]:
        """A request's cost in each budget; never more than the whole budget, or it could never go."""
        costs = {"requests": 1.0, "tokens": float(max(tokens, 1))}
        for name, budget in self._budgets.items():
            if budget.limit is not None:
                costs[name] = min(costs[name], budget.limit)
        return costs

    def delay(self, tokens: int = 0) -> float:
        """
        Seconds before a request of ``tokens`` estimated tokens may go (0: now). When only a new answer can free
        budget (all of it is in flight), the wait is :data:`RECHECK`.

        :param tokens: the request's estimated tokens (prompt plus the most it may generate); 0 if unknown.
        """
        now = self._clock()
        waits = []
        for name, cost in self._costs(tokens).items():
            budget = self._budgets[name]
            if budget.available(now) < cost:
                change = budget.next_change(now)
                waits.append(min(max(change - now, MIN_WAIT), MAX_RATE_LIMIT_WAIT) if change is not None else RECHECK)
        return max(waits, default=0.0)

    def take(self, tokens: int = 0, waited: float = 0.0) -> Ticket:
        """
        Count a request as sent now and return its ticket (for :meth:`observe`), whether or not it had to wait.

        :param tokens: the request's estimated tokens.
        :param waited: the seconds it was held back, for the caller's log.
        """
        now = self._clock()
        while self._recent and now - self._recent[0][0] > SETTLE:
            self._recent.popleft()
        costs = self._costs(tokens)
        unseen = {name: sum(recent[name] for _, recent in self._recent) for name in costs}
        for name, cost in costs.items():
            self._budgets[name].send(cost, now)
        self._recent.append((now, costs))
        return Ticket({name: budget.sent for name, budget in self._budgets.items()}, unseen, waited)

    async def acquire(self, tokens: int = 0) -> Ticket:
        """
        Wait until the announced limits leave room for a request of ``tokens`` estimated tokens, then take it.
        Fails with :class:`~airflow_provider_openai_fusion.exceptions.APITimeoutError` after ``max_wait`` seconds.

        :param tokens: the request's estimated tokens; 0 if unknown.
        """
        started = self._clock()
        waited = False
        while (delay := self.delay(tokens)) > 0:
            if self._clock() - started >= self._max_wait:
                raise APITimeoutError(
                    f"the server's announced rate limits held a request back for {self._max_wait:.0f} s; gave up "
                    f"({self._announced()})"
                )
            await self._sleep(min(delay, RECHECK))
            waited = True
        return self.take(tokens, self._clock() - started if waited else 0.0)

    def _announced(self) -> str:
        """What the server announced of each budget, for the error of :meth:`acquire`."""
        parts = [
            f"{name}: limit {budget.limit:g}, {budget.sent:g} sent, window {budget.window:g} s"
            for name, budget in self._budgets.items()
            if budget.limit is not None and budget.window is not None
        ]
        return "; ".join(parts) or "no limits announced"

    def observe(self, ticket: Ticket, headers: Mapping[str, str]) -> None:
        """
        Read the rate-limit headers of the answer to the request of ``ticket``.

        :param ticket: the ticket :meth:`acquire` gave that request.
        :param headers: the answer's headers (lower-cased names).
        """
        now = self._clock()
        for name, budget in self._budgets.items():
            remaining = _count(headers.get(f"x-ratelimit-remaining-{name}"))
            if remaining is None:
                continue
            limit = _count(headers.get(f"x-ratelimit-limit-{name}"))
            budget.limit = limit if limit is not None else math.inf
            reset = parse_reset(headers.get(f"x-ratelimit-reset-{name}"))
            wait = min(reset if reset is not None else DEFAULT_RESET, MAX_RATE_LIMIT_WAIT)
            budget.add(_View(remaining, now + wait, ticket.sent[name] - ticket.unseen[name]), wait, now)

"""The rate-limit gate, on a deterministic clock: what the headers allow, and no 429 from servers that enforce them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from airflow_provider_openai_fusion._http.ratelimit import RECHECK, SETTLE, RateLimitGate, Ticket, parse_reset
from airflow_provider_openai_fusion.exceptions import APITimeoutError


class Clock:
    """A clock that moves only when told (or when the gate sleeps)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.slept.append(delay)
        self.now += delay


def headers(kind: str, limit: int, remaining: int, reset: str) -> dict[str, str]:
    return {
        f"x-ratelimit-limit-{kind}": str(limit),
        f"x-ratelimit-remaining-{kind}": str(remaining),
        f"x-ratelimit-reset-{kind}": reset,
    }


def spaced_take(gate: RateLimitGate, clock: Clock, tokens: int = 0) -> Ticket:
    """Take a request after the previous one has settled (so that its answer is known to count it)."""
    clock.now += 2 * SETTLE
    return gate.take(tokens)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1s", 1.0),
        ("20ms", 0.02),
        ("6m0s", 360.0),
        ("1h2m3.5s", 3723.5),
        ("2.5", 2.5),
        ("soon", None),
        (None, None),
        ("nan", None),  # not a time: the default reset applies, the answer is not ignored
        ("inf", None),
        ("-3", 0.0),
    ],
)
def test_parse_reset(value: str | None, seconds: float | None) -> None:
    assert parse_reset(value) == seconds


def test_without_headers_nothing_is_held_back() -> None:
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    for _ in range(100):
        assert gate.delay(tokens=10**9) == 0.0
        gate.observe(gate.take(10**9), {"x-request-id": "req_1"})


def test_remaining_requests_go_then_the_next_waits_for_the_reset() -> None:
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    gate.observe(spaced_take(gate, clock), headers("requests", 10, 3, "500ms"))
    for _ in range(3):
        assert gate.delay() == 0.0
        spaced_take(gate, clock)
    assert gate.delay() == pytest.approx(0.5 - 6 * SETTLE)
    clock.now += 0.5
    assert gate.delay() == 0.0


def test_after_the_reset_what_was_sent_since_still_counts() -> None:
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    first = spaced_take(gate, clock)
    for _ in range(4):
        spaced_take(gate, clock)
    gate.observe(first, headers("requests", 5, 4, "1s"))
    clock.now += 1.0
    assert gate.delay() == 0.0
    spaced_take(gate, clock)
    assert gate.delay() > 0, "5 sent since the answer's request: they count until they leave the window"
    clock.now += 3.85
    assert gate.delay() > 0, "a reset of 1 s for 1 request of 5 means a 5 s window"
    clock.now += 0.1
    assert gate.delay() == 0.0, "the oldest of them has left the window: it no longer counts"


def test_requests_sent_just_before_may_not_be_counted_by_the_answer() -> None:
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    burst = [gate.take() for _ in range(3)]
    assert [ticket.unseen["requests"] for ticket in burst] == [0, 1, 2]
    gate.observe(burst[2], headers("requests", 3, 2, "1s"))
    assert gate.delay() > 0, "the server may have counted the last of the burst first: the 2 before it still count"
    clock.now += 1.0
    assert gate.delay() == 0.0
    later = spaced_take(gate, clock)
    gate.observe(later, headers("requests", 3, 2, "1s"))
    assert gate.delay() == 0.0, "sent alone, its answer counted everything before it"


def test_tokens_hold_back_a_request_that_does_not_fit() -> None:
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    gate.observe(spaced_take(gate, clock, 1000), headers("tokens", 10_000, 2500, "2s"))
    assert gate.delay(tokens=2000) == 0.0
    spaced_take(gate, clock, 2000)
    assert gate.delay(tokens=1000) == pytest.approx(2.0 - 2 * SETTLE)
    assert gate.delay(tokens=400) == 0.0
    assert gate.delay(tokens=50_000) > 0, "a request larger than the whole budget waits for all of it"
    clock.now += 2.0
    assert gate.delay(tokens=8000) == 0.0
    assert 0 < gate.delay(tokens=50_000) < 1, "the 2,000 sent after the answer count for the window (2.67 s)"
    clock.now += 0.7
    assert gate.delay(tokens=50_000) == 0.0


def test_unreadable_headers_are_ignored_and_a_missing_limit_frees_all_at_the_reset() -> None:
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    gate.observe(spaced_take(gate, clock), {"x-ratelimit-remaining-requests": "many"})
    assert gate.delay() == 0.0
    gate.observe(spaced_take(gate, clock), {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1h"})
    assert gate.delay() == pytest.approx(60.0, abs=2 * SETTLE), "a reset is believed for a minute at most"
    clock.now += 60.0
    assert gate.delay() == 0.0


async def test_acquire_sleeps_in_short_steps_until_the_reset() -> None:
    clock = Clock()
    gate = RateLimitGate(sleep=clock.sleep, clock=clock)
    gate.observe(await gate.acquire(), headers("requests", 1, 0, "120ms"))
    ticket = await gate.acquire()
    assert ticket.waited == pytest.approx(0.12)
    assert clock.slept == pytest.approx([RECHECK, RECHECK, 0.12 - 2 * RECHECK])


@dataclass
class BucketServer:
    """A server enforcing ``limit`` requests and ``token_limit`` tokens per ``window`` seconds, as token buckets."""

    limit: float
    token_limit: float
    window: float
    levels: list[float] = field(default_factory=list)
    updated: float = 0.0
    refused: int = 0

    def admit(self, now: float, tokens: int) -> dict[str, str] | None:
        if not self.levels:
            self.levels, self.updated = [self.limit, self.token_limit], now
        limits = (self.limit, self.token_limit)
        refill = (now - self.updated) / self.window
        self.levels = [min(top, level + refill * top) for top, level in zip(limits, self.levels, strict=True)]
        self.updated = now
        if self.levels[0] < 1 or self.levels[1] < tokens:
            self.refused += 1
            return None
        self.levels = [self.levels[0] - 1, self.levels[1] - tokens]
        answer: dict[str, str] = {}
        for kind, top, level in zip(("requests", "tokens"), limits, self.levels, strict=True):
            reset_ms = math.ceil((top - level) / (top / self.window) * 1000)
            answer |= headers(kind, int(top), int(level), f"{reset_ms}ms")
        return answer


@dataclass
class WindowServer:
    """A server enforcing ``limit`` requests per fixed window of ``window`` seconds."""

    limit: int
    window: float
    start: float = 0.0
    used: int = 0
    refused: int = 0

    def admit(self, now: float, tokens: int) -> dict[str, str] | None:
        if now >= self.start + self.window:
            self.start, self.used = now, 0
        if self.used >= self.limit:
            self.refused += 1
            return None
        self.used += 1
        reset_ms = math.ceil((self.start + self.window - now) * 1000)
        return headers("requests", self.limit, self.limit - self.used, f"{reset_ms}ms")


def simulate(server: BucketServer | WindowServer, count: int, concurrency: int, latency: float) -> float:
    """
    Send ``count`` requests of 3,000 tokens through a gate, ``concurrency`` at a time, to ``server`` (admitted when
    sent, answered ``latency`` later); return the seconds it took. Discrete events: no real time passes. The first
    ``concurrency`` requests go before any answer tells the limits: the tests keep them within.
    """
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    in_flight: list[tuple[float, Ticket, dict[str, str]]] = []
    sent = 0
    while sent < count or in_flight:
        if sent < count and len(in_flight) < concurrency and gate.delay(3000) == 0:
            ticket = gate.take(3000)
            answer = server.admit(clock.now, 3000)
            assert answer is not None, f"request {sent} drew a 429"
            in_flight.append((clock.now + latency, ticket, answer))
            sent += 1
            clock.now += 0.001
            continue
        wake = [at for at, _, _ in in_flight]
        if sent < count and len(in_flight) < concurrency:
            wake.append(clock.now + min(gate.delay(3000), RECHECK))
        clock.now = max(clock.now, min(wake))
        for done in [entry for entry in in_flight if entry[0] <= clock.now]:
            in_flight.remove(done)
            gate.observe(done[1], done[2])
    return clock.now - 1000.0


@pytest.mark.parametrize("concurrency", [1, 4, 8])
def test_a_token_bucket_server_answers_no_429_and_is_used_to_its_rate(concurrency: int) -> None:
    server = BucketServer(limit=10, token_limit=24_000, window=1.0)
    seconds = simulate(server, count=60, concurrency=concurrency, latency=0.1)
    assert server.refused == 0
    at_best = (60 * 3000 - 24_000) / 24_000
    assert seconds < 1.2 * at_best + 0.2, f"{seconds:.2f} s for a best of {at_best:.2f} s"


@pytest.mark.parametrize("concurrency", [2, 5])
def test_a_fixed_window_server_answers_no_429(concurrency: int) -> None:
    server = WindowServer(limit=5, window=1.0)
    seconds = simulate(server, count=30, concurrency=concurrency, latency=0.2)
    assert server.refused == 0
    assert seconds < 7.0, f"{seconds:.2f} s for 6 windows of 5"


@pytest.mark.parametrize("kind", ["requests", "tokens"])
async def test_a_first_burst_over_the_limit_ages_out_instead_of_blocking_for_good(kind: str) -> None:
    """Four requests go before any answer; the server allows two per second. The fifth waits, then goes."""
    clock = Clock()
    gate = RateLimitGate(sleep=clock.sleep, clock=clock)
    burst = [await gate.acquire(tokens=100) for _ in range(4)]
    limit = 2 if kind == "requests" else 200
    for ticket in burst:
        gate.observe(ticket, headers(kind, limit, 0, "1s"))
    fifth = await gate.acquire(tokens=100)
    assert 0 < fifth.waited <= 1.0 + RECHECK, "the burst is older than the 1 s window by then"
    assert len(clock.slept) == math.ceil(fifth.waited / RECHECK)


async def test_acquire_gives_up_after_max_wait_with_what_the_server_announced() -> None:
    clock = Clock()
    gate = RateLimitGate(sleep=clock.sleep, clock=clock, max_wait=5.0)
    gate.observe(await gate.acquire(), {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1h"})
    with pytest.raises(APITimeoutError, match=r"held a request back for 5 s; gave up \(requests: limit inf"):
        await gate.acquire()
    assert 5.0 <= sum(clock.slept) <= 5.0 + RECHECK

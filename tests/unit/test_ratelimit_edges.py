"""
Edges of the rate-limit gate's arithmetic, on a deterministic clock: cases added for mutants of
``_http/ratelimit.py`` that survived the gate's own tests (scripts/mutation.sh ratelimit). Times are chosen so
that the float arithmetic is exact at the edge being tested.
"""

from __future__ import annotations

import pytest

from airflow_provider_openai_fusion._http.ratelimit import RECHECK, SETTLE, RateLimitGate, parse_reset
from airflow_provider_openai_fusion.exceptions import APITimeoutError
from tests.unit.test_ratelimit import Clock, headers


class Oversleeping(Clock):
    """An event loop that wakes a whole second after each sleep, whatever was asked."""

    async def sleep(self, delay: float) -> None:
        self.slept.append(delay)
        self.now += 1.0


class Ticking(Clock):
    """A clock that moves a millisecond each time it is read, as a real monotonic clock does."""

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def started_at_zero() -> tuple[Clock, RateLimitGate]:
    """A gate on a clock that starts at 0 s, so that the cases read in whole seconds."""
    clock = Clock()
    clock.now = 0.0
    return clock, RateLimitGate(clock=clock)


def test_tickets_count_what_was_sent_and_what_was_sent_just_before() -> None:
    clock, gate = started_at_zero()
    first = gate.take(tokens=30)
    clock.now = SETTLE  # exactly SETTLE later: the first may not be counted by this one's answer
    second = gate.take()
    clock.now = 0.5
    third = gate.take(tokens=5)
    assert (first.sent, first.unseen, first.waited) == (
        {"requests": 1.0, "tokens": 30.0},
        {"requests": 0.0, "tokens": 0.0},
        0.0,
    )
    assert (second.sent, second.unseen) == ({"requests": 2.0, "tokens": 31.0}, {"requests": 1.0, "tokens": 30.0})
    assert (third.sent, third.unseen) == ({"requests": 3.0, "tokens": 36.0}, {"requests": 0.0, "tokens": 0.0})


def test_a_request_of_unknown_size_costs_one_token() -> None:
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    gate.observe(gate.take(), headers("tokens", 10_000, 1, "1s"))
    assert gate.delay() == 0.0, "one token left: a request of unknown size (one token) fits"
    assert gate.delay(tokens=2) == pytest.approx(1.0)


def test_an_answer_with_the_whole_budget_left_frees_everything() -> None:
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    gate.observe(gate.take(), headers("requests", 10, 10, "1s"))
    assert gate.delay() == 0.0
    for _ in range(10):
        gate.take()
    assert gate.delay() == pytest.approx(1.0), "10 sent since the answer took all 10 left: the next waits the reset"


def test_an_answer_without_a_reset_is_believed_for_a_second() -> None:
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    gate.observe(gate.take(), {"x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "0"})
    assert gate.delay() == pytest.approx(1.0)


def test_a_short_window_is_not_stretched_to_a_second() -> None:
    clock, gate = started_at_zero()
    gate.observe(gate.take(), headers("requests", 1, 0, "250ms"))
    clock.now = 0.25
    assert gate.delay() == 0.0
    gate.take()
    assert gate.delay() == 0.25, "the request just sent counts for the 250 ms window, not for a second"


def test_a_send_stops_counting_exactly_when_it_is_as_old_as_the_window() -> None:
    clock, gate = started_at_zero()
    gate.observe(gate.take(), headers("requests", 2, 0, "1s"))  # window: 1 s for 2 requests
    clock.now = 1.0
    gate.take()
    gate.take()
    clock.now = 2.0
    assert gate.delay() == 0.0, "the first of the two is 1 s old: out of the window"


def test_a_view_whole_right_now_is_not_a_change_to_wait_for() -> None:
    clock, gate = started_at_zero()
    gate.observe(gate.take(), headers("requests", 2, 1, "1s"))  # whole at 1 s; window 2 s
    clock.now = 0.5
    gate.take()
    gate.take()
    clock.now = 1.0
    assert gate.delay() == 1.0, "whole now, but the 2 sent since count until 2.5 s; the first send ages out at 2 s"


def test_a_late_answer_after_every_send_aged_out_waits_for_its_reset() -> None:
    clock, gate = started_at_zero()
    ticket = gate.take()
    clock.now = 5.0  # the answer comes 5 s later, saying: nothing left for 1 s
    gate.observe(ticket, headers("requests", 1, 0, "1s"))
    assert gate.delay() == 1.0


def test_a_reset_of_zero_makes_the_budget_whole_at_once() -> None:
    clock = Clock()
    gate = RateLimitGate(clock=clock)
    gate.observe(gate.take(), headers("requests", 5, 0, "1s"))
    assert gate.delay() > 0
    clock.now += 2 * SETTLE
    gate.observe(gate.take(), headers("requests", 5, 4, "0s"))
    assert gate.delay() == 0.0, "the second answer says the budget is whole again now"


async def test_a_request_that_did_not_wait_has_waited_nothing() -> None:
    clock = Ticking()
    gate = RateLimitGate(sleep=clock.sleep, clock=clock)
    assert (await gate.acquire()).waited == 0.0
    assert gate.take().waited == 0.0


async def test_acquire_gives_up_as_soon_as_max_wait_has_passed() -> None:
    clock = Oversleeping()
    gate = RateLimitGate(sleep=clock.sleep, clock=clock, max_wait=3.0)
    ticket = await gate.acquire(tokens=100)
    gate.observe(ticket, headers("requests", 10, 0, "1m") | headers("tokens", 1000, 0, "1m"))
    with pytest.raises(APITimeoutError) as info:
        await gate.acquire(tokens=100)
    assert len(clock.slept) == 3
    assert str(info.value).endswith(
        "(requests: limit 10, 1 sent, window 60 s; tokens: limit 1000, 100 sent, window 60 s)"
    )
    assert clock.slept == [RECHECK] * 3


def test_a_reset_header_is_read_by_its_first_64_characters() -> None:
    assert parse_reset("1s" * 33) == 32.0, "66 characters: the 33rd '1s' is cut to '1' and left out"

"""The ordered pipeline of bulk calls: input order, a bounded window, lanes, failures that stop everything."""

from __future__ import annotations

import asyncio
import socket

import pytest

from airflow_provider_openai_fusion._http.bulk import LANE, in_order, lanes
from airflow_provider_openai_fusion._http.deadline import readable


def run_pipeline(count: int, workers: int, window: int, delays: dict[int, int]) -> tuple[list[int], dict[str, int]]:
    """Run ``count`` positions where position ``p`` yields ``delays.get(p, 0)`` times; record order and peaks."""
    emitted: list[int] = []
    peaks = {"pending": 0, "lane_busy": 0}
    state = {"taken": 0}
    busy: dict[int, int] = {}

    async def work(position: int, lane: int) -> int:
        state["taken"] += 1
        peaks["pending"] = max(peaks["pending"], state["taken"] - len(emitted))
        busy[lane] = busy.get(lane, 0) + 1
        peaks["lane_busy"] = max(peaks["lane_busy"], busy[lane])
        for _ in range(delays.get(position, 0)):
            await asyncio.sleep(0)
        busy[lane] -= 1
        return position * 10

    def emit(position: int, result: int) -> None:
        assert result == position * 10
        emitted.append(position)

    asyncio.run(in_order(count, work, emit, workers, window))
    return emitted, peaks


def test_results_are_emitted_in_input_order_whatever_order_they_finish_in() -> None:
    delays = {0: 50, 3: 20, 7: 5}  # the first position is the slowest
    emitted, _ = run_pipeline(40, workers=8, window=16, delays=delays)
    assert emitted == list(range(40))


def test_no_more_than_the_window_is_taken_and_not_yet_emitted() -> None:
    emitted, peaks = run_pipeline(200, workers=8, window=12, delays={0: 500})
    assert emitted == list(range(200))
    assert peaks["pending"] == 12  # position 0 holds the others back: exactly the window is taken, no more


def test_each_lane_has_at_most_its_share_of_the_workers() -> None:
    _, peaks = run_pipeline(400, workers=32, window=64, delays={n: n % 7 for n in range(400)})
    assert peaks["lane_busy"] == LANE
    assert (lanes(32), lanes(33), lanes(1)) == (8, 9, 1)


def test_a_failure_cancels_the_other_workers_and_is_raised() -> None:
    started: list[int] = []
    cancelled: list[int] = []

    async def work(position: int, lane: int) -> int:
        started.append(position)
        if position == 2:
            raise ValueError("position 2 failed")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(position)
            raise
        return position

    with pytest.raises(ValueError, match="position 2 failed"):
        asyncio.run(asyncio.wait_for(in_order(100, work, lambda *_: None, 4, 8), timeout=10))
    assert sorted(started) == [0, 1, 2, 3] and sorted(cancelled) == [0, 1, 3]


def test_nothing_to_do_is_done_at_once() -> None:
    assert run_pipeline(0, workers=8, window=8, delays={}) == ([], {"pending": 0, "lane_busy": 0})


def test_a_pooled_socket_is_readable_only_once_the_peer_has_sent_or_closed() -> None:
    ours, peer = socket.socketpair()
    with ours, peer:
        assert not readable(ours)
        peer.close()
        assert readable(ours)
    assert readable(None)
    assert readable(ours)  # closed: treated as readable, so the pool drops it

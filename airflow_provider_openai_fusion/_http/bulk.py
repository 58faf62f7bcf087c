"""
The ordered pipeline of bulk calls: a fixed set of workers take positions in order, each worker on its own lane,
and every result is handed on in input order as soon as the ones before it are in, with at most ``window``
positions taken and not yet handed on, so memory holds a window of answers, never the run.

A worker is a slot of ``max_concurrency``: there is no semaphore to queue on and no task per call, and each lane
(its own ``httpx.AsyncClient`` of :data:`LANE` connections) never has more calls than connections. httpcore's pool
scans all its connections, for each of them, every time it assigns a request (quadratic in the pool's size), which
made one client of 32 connections spend most of a bulk run's CPU in that scan; lanes of 4 keep it small.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

LANE = 4
"""Workers (and connections) per lane: per client."""

_Result = TypeVar("_Result")


def lanes(workers: int) -> int:
    """
    The lanes (clients) that ``workers`` workers use: one per :data:`LANE` workers.

    :param workers: the number of workers.
    """
    return -(-workers // LANE)


async def in_order(
    count: int,
    work: Callable[[int, int], Awaitable[_Result]],
    emit: Callable[[int, _Result], None],
    workers: int,
    window: int,
) -> None:
    """
    Run ``work(position, lane)`` for positions ``0 .. count - 1`` with ``workers`` workers and hand each result to
    ``emit(position, result)`` in order of position. A worker takes a position only while fewer than ``window``
    are taken and not yet emitted. An exception in ``work`` or ``emit`` cancels the other workers and propagates.

    :param count: the number of positions.
    :param work: does one position on the given lane (``worker // LANE``).
    :param emit: receives each result, in order of position.
    :param workers: the most positions worked on at once.
    :param window: the most positions taken and not yet emitted (at least ``workers``).
    """
    room = asyncio.Semaphore(max(window, workers))
    done: dict[int, _Result] = {}
    taken = emitted = 0

    async def worker(lane: int) -> None:
        nonlocal taken, emitted
        while True:
            await room.acquire()
            if taken >= count:
                room.release()
                return
            position, taken = taken, taken + 1
            done[position] = await work(position, lane)
            while emitted in done:
                emit(emitted, done.pop(emitted))
                emitted += 1
                room.release()

    tasks = [asyncio.ensure_future(worker(index // LANE)) for index in range(max(min(workers, count), 0))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise

"""
B5, waiting at scale: 1,000 of our triggers in one event loop, polling a local server, beside 1,000 of the
official provider's ``OpenAIBatchTrigger``. Ours are a mix, in turn, of every trigger class of the AREAS table
whose jobs the server runs: fine-tuning jobs, batches and background responses.

Each job (or batch, or response) runs for ``--job-seconds`` after its first poll. Triggers start spread over one poll
interval, as deferred tasks reach a triggerer at different moments. A ticker task sleeps 10 ms again and again
and records by how much each sleep overshoots: that is the event-loop lag every other trigger would suffer. As one
long stall is a single sample, the time spent in stalls over 100 ms is reported too.
Memory per trigger is the growth of the peak RSS over the RSS before the triggers were made, divided by their
number. Full garbage collections (generation 2) are timed too: with Airflow imported, the heap holds some 200,000
objects, and each full collection stops the loop for as long as it takes. Each kind runs in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import (
    FullCollections,
    emit,
    local_server,
    peak_rss_mib,
    percentile,
    raise_file_limit,
    reset_peak_rss,
    run_child,
    use_connections,
    yes_no,
)

TICK = 0.01


JOB_IDS = {"fine_tuning": "ftjob", "batches": "batch", "responses": "resp"}


@functools.cache
def our_mix() -> list[type]:
    """
    The trigger classes of the AREAS table whose jobs the server runs (fine-tuning jobs, batches, background
    responses), in table order.
    """
    import importlib

    from airflow_provider_openai_fusion.areas import classes

    return [
        getattr(importlib.import_module(f"airflow_provider_openai_fusion.triggers.{module}"), name)
        for name, module in classes("triggers").items()
        if module in JOB_IDS
    ]


def make_ours(index: int, interval: float, timeout: float) -> Any:
    """One of our triggers: the kinds of :func:`our_mix` in turn."""
    mix = our_mix()
    trigger = mix[index % len(mix)]
    area = trigger.__module__.rsplit(".", 1)[-1]
    return trigger(
        job_id=f"{JOB_IDS[area]}-{index}",
        conn_id="openai_fusion_default",
        poll_interval=interval,
        deadline=time.time() + timeout,
    )


def make_official(index: int, interval: float, timeout: float) -> Any:
    """One of the official provider's batch triggers."""
    from airflow.providers.openai.triggers.openai import OpenAIBatchTrigger

    return OpenAIBatchTrigger(
        conn_id="openai_default", batch_id=f"batch_{index}", poll_interval=interval, timeout=timeout
    )


async def ticker(stop: asyncio.Event, lags: list[float]) -> None:
    """Sleep ``TICK`` again and again, recording each overshoot."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        await asyncio.sleep(TICK)
        lags.append(loop.time() - started - TICK)


async def wait_for(trigger: Any, delay: float) -> dict[str, Any]:
    """Start ``trigger`` after ``delay`` and return its first event's payload."""
    await asyncio.sleep(delay)
    async for event in trigger.run():
        return event.payload
    raise RuntimeError("the trigger ended without an event")


async def waiting(make: Callable[[int, float, float], Any], count: int, interval: float, limit: float) -> dict:
    """Run ``count`` triggers to their end with the ticker beside them."""
    collections = FullCollections()
    gc.callbacks.append(collections)
    before = reset_peak_rss()
    triggers = [make(index, interval, limit) for index in range(count)]
    lags: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(stop, lags))
    started = time.perf_counter()
    events = await asyncio.wait_for(
        asyncio.gather(*(wait_for(trigger, index * interval / count) for index, trigger in enumerate(triggers))),
        limit,
    )
    elapsed = time.perf_counter() - started
    stop.set()
    await tick
    gc.callbacks.remove(collections)
    statuses: dict[str, int] = {}
    for event in events:
        statuses[event["status"]] = statuses.get(event["status"], 0) + 1
    return {
        "triggers": count,
        "seconds": elapsed,
        "statuses": statuses,
        "lag_ms_p50": percentile(lags, 0.50) * 1000,
        "lag_ms_p99": percentile(lags, 0.99) * 1000,
        "lag_ms_max": max(lags) * 1000,
        "stalled_over_100ms_s": sum(lag for lag in lags if lag > 0.1),
        "ticks": len(lags),
        "kib_per_trigger": (peak_rss_mib() - before) * 1024 / count,
        "full_gc": {
            "count": len(collections.pauses),
            "total_ms": sum(collections.pauses) * 1000,
            "max_ms": max(collections.pauses, default=0) * 1000,
        },
    }


def child(kind: str, count: int, interval: float, job_seconds: float, limit: float) -> None:
    """Run one kind of trigger against its own server and print the result."""
    raise_file_limit()
    make = {"ours": make_ours, "official": make_official}[kind]
    with local_server("--job-seconds", str(job_seconds)) as base_url:
        use_connections(base_url)
        make(0, interval, limit)
        result = asyncio.run(waiting(make, count, interval, limit))
        if kind == "ours":
            kinds = our_mix()
            result["mix"] = {cls.__name__: len(range(i, count, len(kinds))) for i, cls in enumerate(kinds)}
        emit(result)


def table_row(r: dict[str, Any]) -> list[str]:
    """This benchmark's row of the results table, from its result."""
    ours, official = r["ours"], r["official"]
    met = ours["lag_ms_p99"] <= 100
    gc_ = ours["full_gc"]
    why = (
        ""
        if met
        else f"{gc_['count']} full garbage collections stopped the loop for {gc_['total_ms']:.0f} ms in all, up to "
        f"{gc_['max_ms']:.0f} ms each (the heap of an Airflow process), on cores shared with the server and other "
        "jobs"
    )

    def ended(x: dict[str, Any]) -> str:
        return ", ".join(f"{count} {status}" for status, count in x["statuses"].items())

    def lag(x: dict[str, Any]) -> str:
        return (
            f"p50 {x['lag_ms_p50']:.1f} ms, p99 {x['lag_ms_p99']:.0f} ms, max {x['lag_ms_max']:.0f} ms, "
            f"{x['stalled_over_100ms_s']:.1f} s in stalls over 100 ms"
        )

    mix = ", ".join(f"{count} `{name}`" for name, count in ours["mix"].items())
    return [
        f"B5 waiting at scale ({ours['triggers']} triggers in one event loop, poll every {r['poll_interval_s']:.0f} s, "
        f"jobs run {r['job_seconds']:.0f} s; ours: {mix})",
        "event-loop lag p99 ≤ 100 ms; memory per trigger reported",
        f"lag {lag(ours)}; {ours['kib_per_trigger']:.0f} KiB per trigger; all done in {ours['seconds']:.0f} s "
        f"({ended(ours)})",
        f"`OpenAIBatchTrigger`: lag {lag(official)}; {official['kib_per_trigger']:.0f} KiB per trigger; "
        f"{official['seconds']:.0f} s ({ended(official)})",
        "",
        yes_no(met),
        why,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=["ours", "official"], help="run one kind here (used by the parent)")
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--job-seconds", type=float, default=20.0)
    parser.add_argument("--limit", type=float, default=150.0, help="seconds before a run is abandoned")
    args = parser.parse_args()
    options = (args.triggers, args.poll_interval, args.job_seconds, args.limit)
    if args.kind:
        child(args.kind, *options)
        return
    flags = [
        f"--triggers={args.triggers}",
        f"--poll-interval={args.poll_interval}",
        f"--job-seconds={args.job_seconds}",
        f"--limit={args.limit}",
    ]
    results = {
        kind: run_child("b5_triggers", f"--kind={kind}", *flags, timeout=args.limit + 60)
        for kind in ("ours", "official")
    }
    emit({"poll_interval_s": args.poll_interval, "job_seconds": args.job_seconds, **results})


if __name__ == "__main__":
    main()

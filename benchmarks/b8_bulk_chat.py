"""
B8, bulk chat at the rate limit's speed: 10,000 short chat completions through ``OpenAIChatCompletionOperator``'s
bulk mode (``items`` -> ``output_path``) against a server that answers each after 50 ms and announces and enforces
request and token limits (token buckets, as OpenAI's), beside what a user would do instead:

- the official provider's hook in a loop (``create_chat_completion`` per item, one after another; its SDK retries
  the 429s it draws), on the first 500 items, reported per item;
- mapped task instances of our chat operator (one per item) through ``airflow dags test``, on 200 items,
  reported per item (the overhead of a task instance: scheduling, process, XCom).

The floor is what the limits allow: the bucket starts full, then refills at the limit's rate, so ``n`` requests
take at least ``(n - limit) / rate`` seconds (the same for tokens), plus one answer's latency. Measured: our run's
wall clock against that floor, the 429s the server answered (target 0), the requests it received, and the peak RSS
growth of the process during the run (the output goes to a file, in input order; memory holds one window). Beside
it, against a server without limits, the client CPU per request of ours against a raw ``httpx.AsyncClient`` doing
the same requests at the same concurrency (what the floor needs of these 2 shared cores: 400 requests a second).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._common import (
    API_KEY,
    airflow_env,
    emit,
    local_server,
    median,
    peak_rss_mib,
    reset_peak_rss,
    scratch_dir,
    times,
    use_connections,
    yes_no,
)

MODEL = "gpt-5.6-luna"
ITEMS = 10_000
LATENCY = 0.05
LIMITS = {"requests": 400, "tokens": 40_000, "window": 1.0}
MAX_COMPLETION_TOKENS = 16
OFFICIAL_ITEMS = 500
MAPPED_ITEMS = 200
CPU_ITEMS = 3_000
CPU_ROUNDS = 3
PREFIX = [{"role": "developer", "content": "Classify the ticket as billing, bug or other. One word."}]


def server_stats(base_url: str) -> dict[str, int]:
    """The server's counters."""
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/bench/stats", timeout=10) as response:
        return json.load(response)


def texts(count: int) -> list[str]:
    """Short, distinct ticket texts."""
    return [f"Ticket {n}: the export button crashes on large files." for n in range(count)]


def ours(folder: Path, concurrency: int, count: int = ITEMS) -> dict[str, Any]:
    """Our operator in bulk mode on ``count`` items, made as a DAG file makes it and run as a task does."""
    from airflow_provider_openai_fusion.operators.chat import OpenAIChatCompletionOperator

    operator = OpenAIChatCompletionOperator(
        task_id="bench",
        model=MODEL,
        messages=PREFIX,
        items=texts(count),
        output_path=str(folder / "answers.jsonl"),
        max_concurrency=concurrency,
        advanced={"max_completion_tokens": MAX_COMPLETION_TOKENS},
    )
    before = reset_peak_rss()
    started, cpu_started = time.perf_counter(), time.process_time()
    manifest = operator.execute(context={})
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    lines = (folder / "answers.jsonl").read_text().splitlines()
    assert manifest["succeeded"] == count and len(lines) == count, manifest
    assert json.loads(lines[-1])["custom_id"] == f"item-{count - 1}"
    return {"seconds": elapsed, "cpu_s": cpu, "peak_rss_growth_mib": peak_rss_mib() - before}


def raw_httpx(base_url: str, count: int, concurrency: int) -> dict[str, Any]:
    """
    The floor of client CPU: ``httpx.AsyncClient`` alone, as a user would write it at the same concurrency and with
    the same layout (a client per 4 workers, each keeping its connections alive), decoding each answer; no checks,
    no pacing, no output file.
    """
    import asyncio

    import httpx

    async def run() -> None:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        clients = [
            httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits) for _ in range(-(-concurrency // 4))
        ]
        positions = iter(range(count))
        answers: list[Any] = [None] * count
        prompts = texts(count)

        async def worker(number: int) -> None:
            client = clients[number // 4]
            for index in positions:
                messages = [*PREFIX, {"role": "user", "content": prompts[index]}]
                body = {"model": MODEL, "messages": messages, "max_completion_tokens": MAX_COMPLETION_TOKENS}
                answers[index] = (await client.post("/chat/completions", json=body)).json()

        await asyncio.gather(*(worker(number) for number in range(concurrency)))
        for client in clients:
            await client.aclose()
        assert all(answer is not None for answer in answers)

    started, cpu_started = time.perf_counter(), time.process_time()
    asyncio.run(run())
    return {"seconds": time.perf_counter() - started, "cpu_s": time.process_time() - cpu_started}


def cpu_side_by_side(concurrency: int) -> dict[str, Any]:
    """Client CPU per request, ours against raw httpx, alternating in rounds against a server without limits."""
    ratios, ours_ms, raw_ms = [], [], []
    with local_server("--latency", str(LATENCY)) as base_url:
        use_connections(base_url)
        for _ in range(CPU_ROUNDS):
            with scratch_dir() as folder:
                mine = ours(folder, concurrency, CPU_ITEMS)
            raw = raw_httpx(base_url, CPU_ITEMS, concurrency)
            ours_ms.append(mine["cpu_s"] / CPU_ITEMS * 1000)
            raw_ms.append(raw["cpu_s"] / CPU_ITEMS * 1000)
            ratios.append(mine["cpu_s"] / raw["cpu_s"])
    return {"items": CPU_ITEMS, "ours_cpu_ms": median(ours_ms), "raw_cpu_ms": median(raw_ms), "ratio": median(ratios)}


def official_loop(count: int) -> dict[str, Any]:
    """The official hook, one call per item, one after another."""
    from airflow.providers.openai.hooks.openai import OpenAIHook

    hook = OpenAIHook()
    started = time.perf_counter()
    for text in texts(count):
        messages = [*PREFIX, {"role": "user", "content": text}]
        hook.create_chat_completion(messages=messages, model=MODEL, max_completion_tokens=MAX_COMPLETION_TOKENS)
    return {"items": count, "seconds": time.perf_counter() - started}


MAPPED_DAG = """
import json
import pendulum
from airflow.sdk import DAG
from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator

PREFIX = {prefix}
with DAG(dag_id="b8_mapped", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    OpenAIChatCompletionOperator.partial(
        task_id="classify", model={model!r}, advanced={{"max_completion_tokens": {cap}}}
    ).expand(messages=[[*PREFIX, {{"role": "user", "content": text}}] for text in {texts!r}])
"""


def mapped(base_url: str, count: int) -> dict[str, Any]:
    """``count`` mapped task instances of our operator through ``airflow dags test``, timed as a whole."""
    with scratch_dir() as home:
        dags = home / "dags"
        dags.mkdir()
        source = MAPPED_DAG.format(prefix=PREFIX, model=MODEL, cap=MAX_COMPLETION_TOKENS, texts=texts(count))
        (dags / "b8_mapped.py").write_text(textwrap.dedent(source))
        env = {**airflow_env(str(home)), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
        env["AIRFLOW_CONN_OPENAI_FUSION_DEFAULT"] = json.dumps(
            {"conn_type": "openai_fusion", "host": base_url, "password": API_KEY}
        )
        airflow = [sys.executable, "-m", "airflow"]
        subprocess.run([*airflow, "db", "migrate"], env=env, capture_output=True, check=True, timeout=300)
        started = time.perf_counter()
        run = subprocess.run([*airflow, "dags", "test", "b8_mapped"], env=env, capture_output=True, timeout=1800)
        elapsed = time.perf_counter() - started
    assert run.returncode == 0, run.stderr[-3000:]
    return {"items": count, "seconds": elapsed}


def floor(requests: int, tokens: int) -> float:
    """The least time the limits allow for ``requests`` of ``tokens`` in all (full buckets at the start)."""
    rate_bound = (requests - LIMITS["requests"]) / LIMITS["requests"] * LIMITS["window"]
    token_bound = (tokens - LIMITS["tokens"]) / LIMITS["tokens"] * LIMITS["window"]
    return max(rate_bound, token_bound, 0.0) + LATENCY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    flags = ["--latency", str(LATENCY), "--rpm", str(LIMITS["requests"]), "--tpm", str(LIMITS["tokens"])]
    with local_server(*flags, "--rate-window", str(LIMITS["window"])) as base_url:
        use_connections(base_url)
        with scratch_dir() as folder:
            run = ours(folder, args.concurrency)
        stats = server_stats(base_url)
    tokens = stats.get("chat_tokens", 0)
    with local_server(*flags, "--rate-window", str(LIMITS["window"])) as base_url:
        use_connections(base_url)
        official = official_loop(OFFICIAL_ITEMS)
        official["rate_limited_429"] = server_stats(base_url).get("rate_limited", 0)
    with local_server("--latency", str(LATENCY)) as base_url:
        per_task = mapped(base_url, MAPPED_ITEMS)
    cpu = cpu_side_by_side(args.concurrency)
    at_best = floor(stats["chat_requests"], tokens)
    emit(
        {
            "items": ITEMS,
            "concurrency": args.concurrency,
            "limits": LIMITS,
            "latency_s": LATENCY,
            **run,
            "requests": stats["chat_requests"],
            "tokens": tokens,
            "rate_limited_429": stats.get("rate_limited", 0),
            "at_best_s": at_best,
            "vs_floor": run["seconds"] / at_best,
            "official_loop": official,
            "mapped": per_task,
            "cpu": cpu,
        }
    )


def table_row(r: dict[str, Any]) -> list[str]:
    """This benchmark's row of the results table, from its result."""
    limits = r["limits"]
    met = r["vs_floor"] <= 1.05 and r["rate_limited_429"] == 0 and r["peak_rss_growth_mib"] <= 64
    official, mapped_run, cpu = r["official_loop"], r["mapped"], r["cpu"]
    why = []
    if r["vs_floor"] > 1.05:
        why.append(f"{times(r['vs_floor'])} the floor the limits allow")
    if r["rate_limited_429"]:
        why.append(f"{r['rate_limited_429']} answers 429")
    if r["peak_rss_growth_mib"] > 64:
        why.append(f"peak RSS +{r['peak_rss_growth_mib']:.0f} MiB")
    return [
        f"B8 bulk chat ({r['items']:,} requests, {limits['requests']} requests and {limits['tokens']:,} tokens per "
        f"second enforced, {r['latency_s'] * 1000:.0f} ms per answer)",
        "≤ 1.05x the floor the limits allow, 0 answers 429, peak RSS ≤ +64 MiB",
        f"{r['seconds']:.1f} s = {times(r['vs_floor'])} the floor of {r['at_best_s']:.1f} s "
        f"(CPU {r['cpu_s']:.1f} s), {r['rate_limited_429']} answers 429, {r['requests']:,} requests, "
        f"peak RSS +{r['peak_rss_growth_mib']:.0f} MiB",
        f"hook in a loop: {official['seconds'] / official['items'] * 1000:.1f} ms per item on "
        f"{official['items']} items ({official['rate_limited_429']} answers 429 drawn)",
        f"mapped task instances of our operator: {mapped_run['seconds'] / mapped_run['items']:.2f} s per item "
        f"({mapped_run['items']} items through airflow dags test); client CPU per request without limits "
        f"({cpu['items']:,} items, median of {CPU_ROUNDS} alternating rounds): ours {cpu['ours_cpu_ms']:.2f} ms = "
        f"{times(cpu['ratio'])} raw `httpx.AsyncClient`'s {cpu['raw_cpu_ms']:.2f} ms",
        yes_no(met),
        "; ".join(why),
    ]


if __name__ == "__main__":
    main()

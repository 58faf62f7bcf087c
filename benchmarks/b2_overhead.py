"""
B2, per-request overhead: chat-completion calls through our hook, raw ``httpx.Client.post`` and the official hook.

The three clients call the same minimal local server (its own process) one request at a time, with keep-alive.
They alternate in rounds, each round in a rotated order, so that a noisy neighbour on the two shared cores hits
all three alike; the median round gives the per-call time (wall clock, and the client process's CPU time), and
the ratios are the medians of the ratios within each round (the calls compared ran a few milliseconds apart).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import API_KEY, emit, local_server, median, times, use_connections, yes_no

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello."}]}


def make_clients(base_url: str) -> dict[str, Callable[[], Any]]:
    """One call of each client; each client is created once and reused (keep-alive)."""
    import httpx
    from airflow.providers.openai.hooks.openai import OpenAIHook

    from airflow_provider_openai_fusion.api.chat import create_chat_completion
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

    ours = OpenAIFusionHook()
    official = OpenAIHook()
    raw = httpx.Client()
    url = f"{base_url}/chat/completions"
    headers = {"Authorization": f"Bearer {API_KEY}"}

    def call_ours() -> Any:
        return ours.request(create_chat_completion(BODY))["choices"][0]["message"]["content"]

    def call_raw() -> Any:
        response = raw.post(url, json=BODY, headers=headers)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    def call_official() -> Any:
        return official.create_chat_completion(messages=BODY["messages"], model=BODY["model"])[0].message.content

    return {"ours": call_ours, "raw_httpx": call_raw, "official": call_official}


def table_row(r: dict[str, Any]) -> list[str]:
    """This benchmark's row of the results table, from its result."""
    wall, cpu = r["wall_us"], r["cpu_us"]
    met = r["ours_vs_raw"] <= 1.10 and r["ours_vs_official"] < 1
    why = (
        ""
        if met
        else f"client CPU per call is {times(r['ours_vs_raw_cpu'])} raw httpx's; the rest is wall-clock noise of the "
        "shared cores"
    )
    return [
        f"B2 per-request overhead ({r['calls_per_client']} chat completions per client, {r['rounds']} alternating "
        "rounds)",
        "ours ≤ 1.10x raw httpx, and faster than the official hook",
        f"{wall['ours']:.0f} µs/call = {times(r['ours_vs_raw'])} raw httpx (CPU {cpu['ours']:.0f} µs = "
        f"{times(r['ours_vs_raw_cpu'])}); {times(r['ours_vs_official'])} the official's time",
        f"{wall['official']:.0f} µs/call = {times(r['official_vs_raw'])} raw httpx (CPU {cpu['official']:.0f} µs)",
        f"raw `httpx.Client.post`: {wall['raw_httpx']:.0f} µs/call (CPU {cpu['raw_httpx']:.0f} µs)",
        yes_no(met),
        why,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=50, help="calls per client per round")
    args = parser.parse_args()
    with local_server() as base_url:
        use_connections(base_url)
        clients = make_clients(base_url)
        names = list(clients)
        for call in clients.values():
            for _ in range(50):
                assert call() == "Hello! How can I help you today?"
        wall: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        for round_index in range(args.rounds):
            for name in names[round_index % 3 :] + names[: round_index % 3]:
                call = clients[name]
                started, cpu_started = time.perf_counter(), time.process_time()
                for _ in range(args.calls):
                    call()
                wall[name].append((time.perf_counter() - started) / args.calls * 1e6)
                cpu[name].append((time.process_time() - cpu_started) / args.calls * 1e6)
    per_call = {name: median(values) for name, values in wall.items()}
    emit(
        {
            "calls_per_client": args.rounds * args.calls,
            "rounds": args.rounds,
            "wall_us": per_call,
            "cpu_us": {name: median(values) for name, values in cpu.items()},
            "ours_vs_raw": median([a / b for a, b in zip(wall["ours"], wall["raw_httpx"], strict=True)]),
            "official_vs_raw": median([a / b for a, b in zip(wall["official"], wall["raw_httpx"], strict=True)]),
            "ours_vs_official": median([a / b for a, b in zip(wall["ours"], wall["official"], strict=True)]),
            "ours_vs_raw_cpu": median([a / b for a, b in zip(cpu["ours"], cpu["raw_httpx"], strict=True)]),
        }
    )


if __name__ == "__main__":
    main()

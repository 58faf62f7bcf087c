"""
B2, per-request overhead: calls through our hook, raw ``httpx.Client.post`` and the official hook, for two calls:
a chat completion and a model response (the Responses API).

The three clients call the same minimal local server (its own process) one request at a time, with keep-alive.
They alternate in rounds, each round in a rotated order, so that a noisy neighbour on the two shared cores hits
all three alike; the median round gives the per-call time (wall clock, and the client process's CPU time), and
the ratios are the medians of the ratios within each round (the calls compared ran a few milliseconds apart).
Each client returns the answer's text, as a task would.

With ``--ledger`` it measures instead what the usage ledger adds to our call: ``ours`` against ``ours`` plus the
ledger's work on the answer, as ``log_usage`` does it in a task (find the task's context, read the usage, price
it, add it to the try's ledger, the cost for the log line, build the record and push it to a task instance whose
``xcom_push`` does nothing: the XCom write is Airflow's), side by side in alternating rounds. The usage log line
itself is left out: the operators logged it before the ledger existed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import API_KEY, emit, local_server, median, times, use_connections, yes_no

ANSWER = "Hello! How can I help you today?"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello."}]}
RESPONSE = {"model": "gpt-4o-mini", "input": "Say hello."}
CALLS = {"chat": "chat completions", "responses": "model responses"}


def make_clients(base_url: str) -> dict[str, dict[str, Callable[[], Any]]]:
    """For each call, one call of each client; each client is created once and reused (keep-alive)."""
    import httpx
    from airflow.providers.openai.hooks.openai import OpenAIHook

    from airflow_provider_openai_fusion.api.chat import create_chat_completion
    from airflow_provider_openai_fusion.api.responses import create_response, output_text
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

    ours = OpenAIFusionHook()
    official = OpenAIHook()
    raw = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"})

    def raw_post(path: str, body: dict[str, Any]) -> Any:
        response = raw.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def raw_output_text(answer: dict[str, Any]) -> str:
        return "".join(
            part["text"]
            for item in answer["output"]
            if item["type"] == "message"
            for part in item["content"]
            if part["type"] == "output_text"
        )

    return {
        "chat": {
            "ours": lambda: ours.request(create_chat_completion(CHAT))["choices"][0]["message"]["content"],
            "raw_httpx": lambda: raw_post("/chat/completions", CHAT)["choices"][0]["message"]["content"],
            "official": lambda: official.create_chat_completion(**CHAT)[0].message.content,
        },
        "responses": {
            "ours": lambda: output_text(ours.request(create_response(RESPONSE))),
            "raw_httpx": lambda: raw_output_text(raw_post("/responses", RESPONSE)),
            "official": lambda: official.create_response(**RESPONSE).output_text,
        },
    }


def ledger_clients(base_url: str) -> dict[str, dict[str, Callable[[], Any]]]:
    """For each call, our hook's call alone and followed by the ledger's work on its answer."""
    from airflow.sdk.execution_time.context import set_current_context

    from airflow_provider_openai_fusion._ledger import current_context, ledger_for, push, read_usage
    from airflow_provider_openai_fusion.api.chat import create_chat_completion
    from airflow_provider_openai_fusion.api.responses import create_response, output_text
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
    from airflow_provider_openai_fusion.operators._base import cost_text

    ours = OpenAIFusionHook()

    class NoXCom:
        try_number = 1

        def xcom_push(self, key: str, value: Any) -> None:
            """The XCom write itself is Airflow's, the same with or without the ledger's arithmetic."""

    lines: list[str] = [""]

    def recorded(answer: dict[str, Any]) -> dict[str, Any]:
        context = current_context()
        ledger = ledger_for(context)
        cost, _ = ledger.add(answer.get("model"), read_usage(answer), answer.get("service_tier"), 1, ours.prices)
        lines[0] = cost_text(cost)
        push(context, ledger)
        return answer

    task = set_current_context({"ti": NoXCom()})  # type: ignore[arg-type]
    task.__enter__()  # one task for the whole benchmark process: its calls add to one try's ledger

    chat_answer = ours.request(create_chat_completion(CHAT))
    response_answer = ours.request(create_response(RESPONSE))
    return {
        "chat": {
            "ours": lambda: ours.request(create_chat_completion(CHAT))["choices"][0]["message"]["content"],
            "ours_ledger": lambda: recorded(ours.request(create_chat_completion(CHAT)))["choices"][0]["message"][
                "content"
            ],
            "ledger_only": lambda: recorded(chat_answer)["choices"][0]["message"]["content"],
        },
        "responses": {
            "ours": lambda: output_text(ours.request(create_response(RESPONSE))),
            "ours_ledger": lambda: output_text(recorded(ours.request(create_response(RESPONSE)))),
            "ledger_only": lambda: output_text(recorded(response_answer)),
        },
    }


def measure_ledger(clients: dict[str, Callable[[], Any]], rounds: int, calls: int) -> dict[str, Any]:
    """
    Time ``ours`` and ``ours_ledger`` in alternating rounds (per-call medians, the median in-round ratio), and the
    ledger's work alone on a kept answer (``ledger_only``, which also returns the text), in the same rounds.
    """
    for call in clients.values():
        for _ in range(50):
            assert call() == ANSWER
    wall: dict[str, list[float]] = {name: [] for name in clients}
    cpu: dict[str, list[float]] = {name: [] for name in clients}
    for round_index in range(rounds):
        names = list(clients) if round_index % 2 == 0 else list(clients)[::-1]
        for name in names:
            started, cpu_started = time.perf_counter(), time.process_time()
            for _ in range(calls):
                clients[name]()
            wall[name].append((time.perf_counter() - started) / calls * 1e6)
            cpu[name].append((time.process_time() - cpu_started) / calls * 1e6)
    return {
        "wall_us": {name: median(values) for name, values in wall.items()},
        "cpu_us": {name: median(values) for name, values in cpu.items()},
        "ledger_vs_ours": median([a / b for a, b in zip(wall["ours_ledger"], wall["ours"], strict=True)]),
        "ledger_vs_ours_cpu": median([a / b for a, b in zip(cpu["ours_ledger"], cpu["ours"], strict=True)]),
        "ledger_only_share_of_ours": median([a / b for a, b in zip(wall["ledger_only"], wall["ours"], strict=True)]),
    }


def measure(clients: dict[str, Callable[[], Any]], rounds: int, calls: int) -> dict[str, Any]:
    """Time the clients of one call in rotated rounds; per-call medians and the medians of in-round ratios."""
    names = list(clients)
    for call in clients.values():
        for _ in range(50):
            assert call() == ANSWER
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in names[round_index % 3 :] + names[: round_index % 3]:
            call = clients[name]
            started, cpu_started = time.perf_counter(), time.process_time()
            for _ in range(calls):
                call()
            wall[name].append((time.perf_counter() - started) / calls * 1e6)
            cpu[name].append((time.process_time() - cpu_started) / calls * 1e6)

    def ratio(values: dict[str, list[float]], a: str, b: str) -> float:
        return median([x / y for x, y in zip(values[a], values[b], strict=True)])

    return {
        "wall_us": {name: median(values) for name, values in wall.items()},
        "cpu_us": {name: median(values) for name, values in cpu.items()},
        "ours_vs_raw": ratio(wall, "ours", "raw_httpx"),
        "official_vs_raw": ratio(wall, "official", "raw_httpx"),
        "ours_vs_official": ratio(wall, "ours", "official"),
        "ours_vs_raw_cpu": ratio(cpu, "ours", "raw_httpx"),
    }


def table_row(r: dict[str, Any]) -> list[str]:
    """This benchmark's row of the results table, from its result."""
    results = r["calls"]
    met = all(x["ours_vs_raw_cpu"] <= 1.10 and x["ours_vs_official"] < 1 for x in results.values())

    def each(text: Callable[[dict[str, Any]], str]) -> str:
        return "; ".join(f"{CALLS[name]}: {text(x)}" for name, x in results.items())

    missed = [
        f"{CALLS[name]}: client CPU per call is {times(x['ours_vs_raw_cpu'])} raw httpx's"
        for name, x in results.items()
        if x["ours_vs_raw_cpu"] > 1.10
    ]
    return [
        f"B2 per-request overhead ({r['calls_per_client']} calls per client and kind: "
        f"{' and '.join(CALLS[name] for name in results)}; {r['rounds']} alternating rounds)",
        "ours ≤ 1.10x raw httpx in client CPU per call, and faster than the official hook",
        each(
            lambda x: (
                f"{x['wall_us']['ours']:.0f} µs/call = {times(x['ours_vs_raw'])} raw httpx (CPU "
                f"{x['cpu_us']['ours']:.0f} µs = {times(x['ours_vs_raw_cpu'])}); {times(x['ours_vs_official'])} the "
                "official's time"
            )
        ),
        each(
            lambda x: (
                f"{x['wall_us']['official']:.0f} µs/call = {times(x['official_vs_raw'])} raw httpx (CPU "
                f"{x['cpu_us']['official']:.0f} µs)"
            )
        ),
        "raw `httpx.Client.post`: "
        + each(lambda x: f"{x['wall_us']['raw_httpx']:.0f} µs/call (CPU {x['cpu_us']['raw_httpx']:.0f} µs)"),
        yes_no(met),
        "; ".join(missed),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=50, help="calls per client per round")
    parser.add_argument("--ledger", action="store_true", help="measure what the usage ledger adds to our call")
    args = parser.parse_args()
    if args.ledger:
        import json

        with local_server() as base_url:
            use_connections(base_url)
            found = {name: measure_ledger(c, args.rounds, args.calls) for name, c in ledger_clients(base_url).items()}
        print(json.dumps({"calls_per_client": args.rounds * args.calls, "rounds": args.rounds, "calls": found}))
        return
    with local_server() as base_url:
        use_connections(base_url)
        results = {name: measure(clients, args.rounds, args.calls) for name, clients in make_clients(base_url).items()}
    emit({"calls_per_client": args.rounds * args.calls, "rounds": args.rounds, "calls": results})


if __name__ == "__main__":
    main()

"""
B3, bulk embeddings: 50,000 short texts through ``OpenAIEmbeddingsOperator`` against a server that answers each
request after 100 ms and takes at most 2,048 inputs per request (the API's cap).

The operator splits the texts within the cap (25 requests) and sends them concurrently; the ideal is
``requests / concurrency x latency``. Beside it: the same requests one after another through our hook and through
the official hook (which has no batching of its own). A last run gives the server a tight rate limit (10 requests
per second, announced in ``x-ratelimit-*`` headers): the operator must hold back instead of drawing 429s.
The client's own work (validating, encoding, decoding and merging 50,000 items) is measured apart, against a
server without latency: the ideal leaves it out.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import urllib.request
from typing import Any

from benchmarks._common import emit, local_server, use_connections

MODEL = "text-embedding-3-small"
DIMENSIONS = 16
LATENCY = 0.1
CAP = 2048


def server_stats(base_url: str) -> dict[str, int]:
    """The server's counters."""
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/bench/stats", timeout=10) as response:
        return json.load(response)


def run_operator(base_url: str, texts: list[str], concurrency: int) -> dict[str, Any]:
    """One run of the operator; the server's counters tell how many requests it made."""
    from airflow_provider_openai_fusion.operators.embeddings import OpenAIEmbeddingsOperator

    operator = OpenAIEmbeddingsOperator(
        task_id="bench", model=MODEL, input=texts, dimensions=DIMENSIONS, max_concurrency=concurrency
    )
    before = server_stats(base_url)
    started = time.perf_counter()
    result = operator.execute(context={})
    elapsed = time.perf_counter() - started
    after = server_stats(base_url)
    assert [item["index"] for item in result["data"]] == list(range(len(texts)))
    requests = after.get("requests", 0) - before.get("requests", 0)
    return {
        "concurrency": concurrency,
        "seconds": elapsed,
        "requests": requests,
        "max_in_flight": after.get("max_in_flight", 0),
        "rate_limited_429": after.get("rate_limited", 0) - before.get("rate_limited", 0),
    }


def sequential(texts: list[str]) -> dict[str, float]:
    """The same requests one after another: through our hook, and through the official hook."""
    from airflow.providers.openai.hooks.openai import OpenAIHook

    from airflow_provider_openai_fusion.api.embeddings import create_embeddings
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

    chunks = [texts[start : start + CAP] for start in range(0, len(texts), CAP)]
    ours, official = OpenAIFusionHook(), OpenAIHook()
    started = time.perf_counter()
    for chunk in chunks:
        ours.request(create_embeddings({"model": MODEL, "input": chunk, "dimensions": DIMENSIONS}))
    middle = time.perf_counter()
    for chunk in chunks:
        official.create_embeddings(text=chunk, model=MODEL, dimensions=DIMENSIONS)
    return {"ours_hook_s": middle - started, "official_hook_s": time.perf_counter() - middle}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8])
    args = parser.parse_args()
    texts = [f"short text number {index} about topic {index % 97}" for index in range(args.texts)]
    requests = math.ceil(len(texts) / CAP)
    runs = []
    with local_server("--latency", str(LATENCY), "--max-inputs", str(CAP)) as base_url:
        use_connections(base_url)
        run_operator(base_url, texts[:CAP], 1)
        for concurrency in args.concurrency:
            run = run_operator(base_url, texts, concurrency)
            run["ideal_s"] = requests / concurrency * LATENCY
            run["vs_ideal"] = run["seconds"] / run["ideal_s"]
            runs.append(run)
        loops = sequential(texts)
    with local_server("--latency", "0", "--max-inputs", str(CAP)) as base_url:
        use_connections(base_url)
        floor = run_operator(base_url, texts, requests)["seconds"]
    for run in runs:
        run["vs_ideal_plus_floor"] = run["seconds"] / (run["ideal_s"] + floor)
    with local_server(
        "--latency", str(LATENCY), "--max-inputs", str(CAP), "--rpm", "10", "--rate-window", "1"
    ) as base_url:
        use_connections(base_url)
        limited = run_operator(base_url, texts, 8)
        limited["server_limit"] = "10 requests per 1 s window"
    emit(
        {
            "texts": len(texts),
            "latency_s": LATENCY,
            "cap": CAP,
            "requests_needed": requests,
            "operator": runs,
            "zero_latency_s": floor,
            "sequential": loops,
            "rate_limited_run": limited,
        }
    )


if __name__ == "__main__":
    main()

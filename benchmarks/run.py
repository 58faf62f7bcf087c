"""
Run the benchmarks, print the results table and write it to ``benchmarks/results.md``.

Run through ``bash benchmarks/run.sh`` (which builds the benchmark venv); ``--only B1,B2`` runs some of them and
prints their rows without touching ``results.md``. A full run also puts the table in the README, between the
``benchmarks:start`` and ``benchmarks:end`` markers of its Performance section.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import run_child

RESULTS = Path(__file__).with_name("results.md")
README = Path(__file__).resolve().parent.parent / "README.md"
README_START, README_END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
COMMAND = "bash benchmarks/run.sh"


def _x(value: float) -> str:
    return f"{value:.2f}x"


def _ok(met: bool) -> str:
    return "yes" if met else "**no**"


def row_b1(r: dict[str, Any]) -> list[str]:
    ours, one, official = (r[name]["median_s"] * 1000 for name in ("ours", "ours_one", "official"))
    top = ", ".join(
        f"`{entry['module'].rsplit('.', 1)[-1]}` {entry['self_ms']:.1f} ms" for entry in r["importtime_top"]
    )
    met = r["ratio"] <= 0.05
    why = "" if met else f"importing our modules costs {ours:.1f} ms; the largest: {top}"
    return [
        f"B1 DAG-parse cost (import after `airflow.sdk`, median of {r['rounds']} fresh interpreters)",
        "ours ≤ 5 % of the official's",
        f"{ours:.1f} ms for all {len(r['our_modules'])} operator modules ({100 * r['ratio']:.1f} %, "
        f"{r['ours']['new_modules']} modules loaded); {one:.1f} ms for the text module alone",
        f"{official:.0f} ms ({r['official']['new_modules']} modules loaded)",
        f"`import airflow.sdk` itself: {r['airflow_sdk_median_s'] * 1000:.0f} ms; slowest of ours: {top}",
        _ok(met),
        why,
    ]


def row_b2(r: dict[str, Any]) -> list[str]:
    wall, cpu = r["wall_us"], r["cpu_us"]
    met = r["ours_vs_raw"] <= 1.10 and r["ours_vs_official"] < 1
    why = (
        ""
        if met
        else f"client CPU per call is {_x(r['ours_vs_raw_cpu'])} raw httpx's; the rest is wall-clock noise of the "
        "shared cores"
    )
    return [
        f"B2 per-request overhead ({r['calls_per_client']} chat completions per client, {r['rounds']} alternating "
        "rounds)",
        "ours ≤ 1.10x raw httpx, and faster than the official hook",
        f"{wall['ours']:.0f} µs/call = {_x(r['ours_vs_raw'])} raw httpx (CPU {cpu['ours']:.0f} µs = "
        f"{_x(r['ours_vs_raw_cpu'])}); {_x(r['ours_vs_official'])} the official's time",
        f"{wall['official']:.0f} µs/call = {_x(r['official_vs_raw'])} raw httpx (CPU {cpu['official']:.0f} µs)",
        f"raw `httpx.Client.post`: {wall['raw_httpx']:.0f} µs/call (CPU {cpu['raw_httpx']:.0f} µs)",
        _ok(met),
        why,
    ]


def row_b3(r: dict[str, Any]) -> list[str]:
    runs = r["operator"]
    best = min(runs, key=lambda run: run["vs_ideal"])
    met = best["vs_ideal"] <= 1.25
    runs_text = "; ".join(
        f"concurrency {run['concurrency']}: {run['seconds']:.2f} s vs ideal {run['ideal_s']:.3f} s = "
        f"{_x(run['vs_ideal'])} ({run['requests']} requests, {run['max_in_flight']} in flight at most; "
        f"{_x(run['vs_ideal_plus_floor'])} the ideal plus the client's own work)"
        for run in runs
    )
    limited = r["rate_limited_run"]
    waves = math.ceil(r["requests_needed"] / best["concurrency"])
    why = (
        ""
        if met
        else f"the ideal leaves out the client's own work: validating {r['texts']:,} texts, encoding the requests, "
        f"decoding and merging {r['texts']:,} vectors takes {r['zero_latency_s']:.2f} s of one core even against a "
        "server without latency, and only part of it overlaps the waiting; and the rounding of "
        f"{r['requests_needed']} requests into {waves} waves of {best['concurrency']} "
        f"(at best {waves * r['latency_s']:.2f} s = {_x(waves * r['latency_s'] / best['ideal_s'])})"
    )
    return [
        f"B3 bulk embeddings ({r['texts']:,} texts, {r['latency_s'] * 1000:.0f} ms per request, "
        f"{r['cap']} inputs per request at most)",
        "≤ 1.25x the ideal (requests / concurrency x latency); concurrency configurable; rate-limit headers respected",
        f"{runs_text}. Against a limit of {limited['server_limit']}: {limited['seconds']:.2f} s, "
        f"{limited['rate_limited_429']} answers 429 (retried after their `retry-after-ms`)",
        f"official hook, sequential loop (it has no batching): {r['sequential']['official_hook_s']:.2f} s",
        f"sequential loop through our hook: {r['sequential']['ours_hook_s']:.2f} s",
        _ok(met),
        why,
    ]


def _transfer(t: dict[str, float]) -> str:
    return f"{t['mib_per_s']:.0f} MiB/s, peak RSS +{t['peak_rss_growth_mib']:.0f} MiB"


def row_b4(r: dict[str, Any]) -> list[str]:
    down, up = r["download"], r["upload"]
    ratios = {name: t["ours"]["mib_per_s"] / t["raw_httpx"]["mib_per_s"] for name, t in (("down", down), ("up", up))}
    growth = max(down["ours"]["peak_rss_growth_mib"], up["ours"]["peak_rss_growth_mib"])
    met = growth <= 64 and min(ratios.values()) >= 0.8
    why = "" if met else f"peak RSS growth {growth:.0f} MiB, throughput {min(ratios.values()):.0%} of raw httpx"
    return [
        f"B4 streaming (download {r['download_bytes'] / 2**30:.0f} GiB, upload {r['upload_bytes'] / 2**20:.0f} MiB "
        "through the Files operator)",
        "peak RSS growth ≤ 64 MiB; throughput ≥ 80 % of a raw httpx stream",
        f"download {_transfer(down['ours'])} ({ratios['down']:.0%} of raw); upload {_transfer(up['ours'])} "
        f"({ratios['up']:.0%} of raw)",
        f"download (`files.content`, no hook method): {_transfer(down['official'])}; upload (`upload_file`): "
        f"{_transfer(up['official'])}",
        f"download {_transfer(down['raw_httpx'])}; upload {_transfer(up['raw_httpx'])}",
        _ok(met),
        why,
    ]


def row_b5(r: dict[str, Any]) -> list[str]:
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

    return [
        f"B5 waiting at scale ({ours['triggers']} triggers in one event loop, poll every {r['poll_interval_s']:.0f} s, "
        f"jobs run {r['job_seconds']:.0f} s)",
        "event-loop lag p99 ≤ 100 ms; memory per trigger reported",
        f"lag {lag(ours)}; {ours['kib_per_trigger']:.0f} KiB per trigger; all done in {ours['seconds']:.0f} s "
        f"({ended(ours)})",
        f"`OpenAIBatchTrigger`: lag {lag(official)}; {official['kib_per_trigger']:.0f} KiB per trigger; "
        f"{official['seconds']:.0f} s ({ended(official)})",
        "",
        _ok(met),
        why,
    ]


def row_b6(r: dict[str, Any]) -> list[str]:
    growth = r["peak_rss_growth_mib"]
    met = growth["join"] <= 256 and r["ratio"] <= 1.5
    why = "" if met else f"peak RSS growth {growth['join']:.0f} MiB, {_x(r['ratio'])} the plain copy's time"
    return [
        f"B6 batch join ({r['requests']:,} results of {r['dimensions']:,}-dimension embeddings, "
        f"{r['bytes'] / 1e9:.2f} GB, shuffled, into input order; best of {r['rounds']} alternating rounds)",
        "peak RSS growth ≤ 256 MiB; time ≤ 1.5x a plain streamed copy of the same bytes",
        f"{r['join_s']:.2f} s = {_x(r['ratio'])} the plain copy, {_x(r['ratio_to_kernel_copy'])} a kernel copy; "
        f"peak RSS +{growth['join']:.0f} MiB",
        "no join: the official operator returns the batch id and downloads nothing",
        f"plain streamed copy (`shutil.copyfileobj`, 1 MiB): {r['copy_s']:.2f} s, +{growth['copy']:.0f} MiB; "
        f"kernel copy (`copy_file_range`): {r['kernel_copy_s']:.2f} s",
        _ok(met),
        why,
    ]


def row_b7(r: dict[str, Any]) -> list[str]:
    ours, raw = r["upload"]["ours"], r["upload"]["raw_httpx"]
    ratio = ours["mib_per_s"] / raw["mib_per_s"]
    met = ours["peak_rss_growth_mib"] <= 64
    why = "" if met else f"peak RSS growth {ours['peak_rss_growth_mib']:.0f} MiB"
    return [
        f"B7 large upload ({r['upload_bytes'] / 2**30:.0f} GiB through the Files operator: Uploads API, "
        f"{r['parts']} parts of 64 MiB, 4 at a time, MD5 alongside; {r['rounds']} rounds)",
        "peak RSS growth ≤ 64 MiB; throughput beside one raw httpx stream",
        f"{_transfer(ours)} ({ratio:.0%} of the raw stream)",
        "no large-upload path (`upload_file` sends one request, refused above 512 MB by the API)",
        f"one raw httpx multipart stream to `POST /files`: {_transfer(raw)}",
        _ok(met),
        why,
    ]


BENCHMARKS: dict[str, tuple[str, float, Callable[[dict[str, Any]], list[str]]]] = {
    "B1": ("b1_import", 300, row_b1),
    "B2": ("b2_overhead", 300, row_b2),
    "B3": ("b3_embeddings", 300, row_b3),
    "B4": ("b4_streaming", 600, row_b4),
    "B5": ("b5_triggers", 500, row_b5),
    "B6": ("b6_batch_join", 900, row_b6),
    "B7": ("b7_uploads", 600, row_b7),
}
HEADER = ["Benchmark", "Target", "Ours", "Official provider 2.2.0", "Baseline", "Met", "Why not"]


def table(rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="comma-separated benchmarks to run, e.g. B1,B2")
    args = parser.parse_args()
    chosen = args.only.upper().split(",") if args.only else list(BENCHMARKS)
    load_before = os.getloadavg()
    started = time.monotonic()
    rows = []
    for name in chosen:
        module, timeout, row = BENCHMARKS[name]
        print(f"running {name} ({module}) ...", flush=True)
        rows.append(row(run_child(module, timeout=timeout)))
    elapsed = time.monotonic() - started
    rendered = table(rows)
    print(rendered)
    if args.only:
        return
    machine = (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, load average "
        f"{load_before[0]:.1f} before and {os.getloadavg()[0]:.1f} after"
    )
    measured = (
        f"Measured on {datetime.date.today().isoformat()} with `{COMMAND}` ({elapsed / 60:.1f} minutes; {machine})."
    )
    RESULTS.write_text(
        f"# Benchmark results\n\n{measured}\n"
        "What each benchmark does and what limits the numbers: the README's Performance section and each "
        "`benchmarks/b*.py` docstring.\n\n" + rendered + "\n"
    )
    readme = README.read_text()
    if README_START in readme and README_END in readme:
        head, rest = readme.split(README_START, 1)
        README.write_text(f"{head}{README_START}\n{measured}\n\n{rendered}\n{README_END}{rest.split(README_END, 1)[1]}")
    print("written to benchmarks/results.md and the README's Performance section")


if __name__ == "__main__":
    main()

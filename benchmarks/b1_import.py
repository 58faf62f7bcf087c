"""
B1, DAG-parse cost: the time to import the operators in a fresh interpreter once ``airflow.sdk`` is imported.

Each probe is a new interpreter that imports ``airflow.sdk`` first (a DAG file always does), then the operator
modules, and times the second step alone. Ours and the official provider alternate, after one discarded warm-up
each (bytecode compilation); the median is reported. Ours is measured twice: every operator module at once (what
a DAG using all of them pays), and the chat module alone (chat completion and edit). ``-X importtime``
then names what our import spends on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from benchmarks._common import ROOT, airflow_env, emit, median, scratch_dir, yes_no

OFFICIAL_MODULE = "airflow.providers.openai.operators.openai"
ONE_OPERATOR_MODULE = "airflow_provider_openai_fusion.operators.chat"
PROBE = """
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
before = len(sys.modules)
sys.stderr.write("--- after airflow.sdk\\n")
for name in sys.argv[1:]:
    __import__(name)
t2 = time.perf_counter()
print(json.dumps({"sdk": t1 - t0, "modules": t2 - t1, "new_modules": len(sys.modules) - before}))
"""


def our_operator_modules() -> list[str]:
    """Every operator module of ours, as the AREAS table lists them."""
    from airflow_provider_openai_fusion.areas import modules

    return [f"airflow_provider_openai_fusion.operators.{module}" for module in modules("operators")]


def probe(modules: list[str], env: dict[str, str], importtime: bool = False) -> tuple[dict, str]:
    """Import ``modules`` after ``airflow.sdk`` in a fresh interpreter; return the timings and its stderr."""
    flags = ["-X", "importtime"] if importtime else []
    completed = subprocess.run(
        [sys.executable, *flags, "-c", PROBE, *modules],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stderr


def importtime_top(stderr: str, count: int) -> list[dict]:
    """The modules that took longest to import (own time) after the ``airflow.sdk`` marker."""
    lines = stderr.split("--- after airflow.sdk\n", 1)[-1].splitlines()
    entries = []
    for line in lines:
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            entries.append({"module": name, "self_ms": int(own) / 1000, "cumulative_ms": int(cumulative) / 1000})
    return sorted(entries, key=lambda entry: entry["self_ms"], reverse=True)[:count]


def table_row(r: dict[str, Any]) -> list[str]:
    """This benchmark's row of the results table, from its result."""
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
        yes_no(met),
        why,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    ours = our_operator_modules()
    variants = {"ours": ours, "ours_one": [ONE_OPERATOR_MODULE], "official": [OFFICIAL_MODULE]}
    with scratch_dir() as home:
        env = airflow_env(str(home))
        for modules in variants.values():
            probe(modules, env)
        samples: dict[str, list[dict]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, modules in variants.items():
                samples[name].append(probe(modules, env)[0])
        _, stderr = probe(ours, env, importtime=True)
    result = {
        name: {
            "median_s": median([sample["modules"] for sample in runs]),
            "min_s": min(sample["modules"] for sample in runs),
            "new_modules": runs[-1]["new_modules"],
        }
        for name, runs in samples.items()
    }
    emit(
        {
            "rounds": args.rounds,
            "our_modules": ours,
            "official_module": OFFICIAL_MODULE,
            "airflow_sdk_median_s": median([sample["sdk"] for runs in samples.values() for sample in runs]),
            **result,
            "ratio": result["ours"]["median_s"] / result["official"]["median_s"],
            "importtime_top": importtime_top(stderr, 5),
        }
    )


if __name__ == "__main__":
    main()

"""What the benchmarks share: the local server as a child process, connections, memory and timing helpers."""

from __future__ import annotations

import gc
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-bench-not-a-secret"
OUR_CONN = "AIRFLOW_CONN_OPENAI_FUSION_DEFAULT"
OFFICIAL_CONN = "AIRFLOW_CONN_OPENAI_DEFAULT"


def airflow_env(home: str) -> dict[str, str]:
    """Environment for a child that imports Airflow: a throwaway ``AIRFLOW_HOME``, no examples, quiet logs."""
    return {
        **os.environ,
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def use_connections(base_url: str) -> None:
    """Point both providers' default connections at ``base_url`` (environment-variable connections)."""
    os.environ[OUR_CONN] = json.dumps(
        {"conn_type": "openai_fusion", "host": base_url, "password": API_KEY, "extra": {"max_retries": 2}}
    )
    os.environ[OFFICIAL_CONN] = json.dumps({"conn_type": "openai", "host": base_url, "password": API_KEY})


@contextmanager
def local_server(*flags: str) -> Iterator[str]:
    """
    Run ``benchmarks.server`` in its own process (so its CPU is not the client's) and yield its base URL.

    :param flags: command-line options of the server.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.server", "--port", "0", *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the benchmark server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        process.terminate()
        process.wait(10)


def raise_file_limit() -> None:
    """Allow as many open sockets as the hard limit (1,000 clients need more than a default 1,024)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class FullCollections:
    """Times the garbage collector's full (generation 2) collections while installed."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._started)

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self)


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def rss_mib() -> float:
    """The process's resident set size now, in MiB."""
    return _status_kib("VmRSS") / 1024


def reset_peak_rss() -> float:
    """Reset the kernel's peak-RSS mark (``VmHWM``) to the current RSS, and return the current RSS in MiB."""
    Path("/proc/self/clear_refs").write_text("5")
    return rss_mib()


def peak_rss_mib() -> float:
    """The peak RSS since the last :func:`reset_peak_rss`, in MiB."""
    return _status_kib("VmHWM") / 1024


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def median(values: Sequence[float]) -> float:
    """The median."""
    return statistics.median(values)


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary folder removed afterwards, with everything written in it."""
    with tempfile.TemporaryDirectory(prefix="openai-fusion-bench-") as name:
        yield Path(name)


def run_child(module: str, *args: str, timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """
    Run ``python -m benchmarks.<module>`` in a fresh interpreter and return the JSON it prints last.

    :param module: the benchmark module.
    :param args: its arguments.
    :param timeout: seconds before it is stopped.
    :param env: its environment.
    """
    with tempfile.TemporaryDirectory(prefix="openai-fusion-bench-home-") as home:
        completed = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{module}", *args],
            cwd=ROOT,
            env=env or airflow_env(home),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmarks.{module} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def times(value: float) -> str:
    """A ratio as the table writes it: ``1.07x``."""
    return f"{value:.2f}x"


def transfer(t: dict[str, float]) -> str:
    """A transfer's throughput and memory as the table writes them."""
    return f"{t['mib_per_s']:.0f} MiB/s, peak RSS +{t['peak_rss_growth_mib']:.0f} MiB"


def yes_no(met: bool) -> str:
    """The table's "Met" cell."""
    return "yes" if met else "**no**"


def emit(result: dict[str, Any]) -> None:
    """Print a benchmark's result as the last line of its output."""
    print(json.dumps(result), flush=True)

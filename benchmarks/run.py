"""
Run the benchmarks, print the results table and write it to ``benchmarks/results.md``.

Run through ``bash benchmarks/run.sh`` (which builds the benchmark venv); ``--only B1,B2`` runs some of them and
prints their rows without touching ``results.md``. A full run also puts the table in docs/performance.md, and a short
one (target and outcome of each row) in README.md, between the ``benchmarks:start`` and ``benchmarks:end`` markers.

Adding a row: a ``benchmarks/bN_<what>.py`` with ``main()`` (ending in ``_common.emit(result)``) and
``table_row(result)`` (the row's cells), and one :class:`Row` in :data:`ROWS`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import time
from pathlib import Path
from typing import NamedTuple

from benchmarks._common import run_child

RESULTS = Path(__file__).with_name("results.md")
PAGE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
README = PAGE.parent.parent / "README.md"
PAGE_START, PAGE_END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
COMMAND = "bash benchmarks/run.sh"


class Row(NamedTuple):
    """
    One row of the table: ``benchmarks/<module>.py`` runs in a fresh interpreter, prints its result as the last
    line of JSON (``_common.emit``), and its ``table_row(result)`` gives the row's cells (see :data:`HEADER`).

    :param name: the row's name, for ``--only``.
    :param module: the benchmark module.
    :param timeout: seconds before the run is stopped.
    """

    name: str
    module: str
    timeout: float


ROWS: tuple[Row, ...] = (
    Row("B1", "b1_import", 900),
    Row("B2", "b2_overhead", 600),
    Row("B3", "b3_embeddings", 900),
    Row("B4", "b4_streaming", 900),
    Row("B5", "b5_triggers", 500),
    Row("B6", "b6_batch_join", 900),
    Row("B7", "b7_uploads", 600),
    Row("B8", "b8_bulk_chat", 2400),
    Row("B9", "b9_webhooks", 600),
)
HEADER = ["Benchmark", "Target", "Ours", "Official provider 2.2.0", "Baseline", "Met", "Why not"]


def table(rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def summary(rows: list[list[str]]) -> str:
    """The README's short table: each benchmark, its target and whether it was met (the why of a miss)."""
    lines = ["| Benchmark | Target | Met |", "|---|---|---|"]
    for row in rows:
        met = row[-2] + (f": {row[-1]}" if row[-1] else "")
        lines.append(
            "| " + " | ".join(cell.replace("|", "\\|") for cell in (row[0].split(" (")[0], row[1], met)) + " |"
        )
    return "\n".join(lines)


def put_between_markers(path: Path, text: str) -> None:
    """Replace what lies between the file's ``benchmarks:start`` and ``benchmarks:end`` markers with ``text``."""
    content = path.read_text()
    if PAGE_START in content and PAGE_END in content:
        head, rest = content.split(PAGE_START, 1)
        path.write_text(f"{head}{PAGE_START}\n{text}\n{PAGE_END}{rest.split(PAGE_END, 1)[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="comma-separated benchmarks to run, e.g. B1,B2")
    args = parser.parse_args()
    known = {row.name: row for row in ROWS}
    chosen = args.only.upper().split(",") if args.only else list(known)
    if unknown := sorted(set(chosen) - set(known)):
        parser.error(f"no benchmark named {', '.join(unknown)}; known: {', '.join(known)}")
    load_before = os.getloadavg()
    started = time.monotonic()
    rows = []
    for name in chosen:
        row = known[name]
        print(f"running {name} ({row.module}) ...", flush=True)
        result = run_child(row.module, timeout=row.timeout)
        rows.append(importlib.import_module(f"benchmarks.{row.module}").table_row(result))
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
        "What each benchmark does and what limits the numbers: docs/performance.md and each "
        "`benchmarks/b*.py` docstring.\n\n" + rendered + "\n"
    )
    put_between_markers(PAGE, f"{measured}\n\n{rendered}")
    put_between_markers(README, f"{measured} Each row in full: [performance](docs/performance.md).\n\n{summary(rows)}")
    print("written to benchmarks/results.md, docs/performance.md and README.md")


if __name__ == "__main__":
    main()

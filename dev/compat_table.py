"""
Render the compatibility matrix's results as the table of docs/install.md.

``tests/compat/test_matrix.py`` writes one row per cell that passed to ``build/compat/results/<cell>.md``.
Usage: ``python -m dev.compat_table SECONDS [--readme]`` (SECONDS: how long the whole run took) prints the table;
with ``--readme`` it also puts it between the ``compat:start`` and ``compat:end`` markers of docs/install.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "build" / "compat" / "results"
PAGE = ROOT / "docs" / "install.md"
START, END = "<!-- compat:start -->", "<!-- compat:end -->"
HEADER = (
    "| Airflow | Python | Result | Fresh venv + install | Imports, `providers list`, `providers hooks` "
    "| Tour DAG (`db migrate`, `dags test`) | Cell |\n|---|---|---|---|---|---|---|"
)


def render(seconds: float) -> str:
    """
    The table of the rows in ``RESULTS``, under a line saying when, with what command and how long.

    :param seconds: how long the whole run took.
    """
    rows = "".join(path.read_text() for path in sorted(RESULTS.glob("*.md")))
    measured = (
        f"Measured on {datetime.date.today().isoformat()} with `bash scripts/compat-matrix.sh` "
        f"({seconds / 60:.1f} minutes for the build, its checks and every cell, two cells at a time; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[2]:.1f} over the last 15 minutes):"
    )
    return f"{measured}\n\n{HEADER}\n{rows}".rstrip("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("seconds", type=float, help="how long the whole run took")
    parser.add_argument("--readme", action="store_true", help="also put the table in docs/install.md")
    args = parser.parse_args()
    table = render(args.seconds)
    print(table)
    if args.readme:
        head, rest = PAGE.read_text().split(START, 1)
        PAGE.write_text(f"{head}{START}\n{table}\n{END}{rest.split(END, 1)[1]}")
        print("written to the Compatibility section of docs/install.md")


if __name__ == "__main__":
    main()

"""
``python -m airflow_provider_openai_fusion.models report [--conn-id ID] [--within N] [--today DAY] [DAGS_FOLDER]``.

Lists every model the provider's operators name in the DAG files (read with ``ast``, never imported), with its
shutdown date and replacement, sorted by date; exits 1 when one shuts down within ``--within`` days (default 30),
so that a CI job can gate on it, 2 on bad arguments, else 0. With ``--conn-id``, the connection's ``GET /models``
is read once and its ``shutdown_date``s win over the table (which counts only when the connection is OpenAI's).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from airflow_provider_openai_fusion.model_lifecycle import WARNING_DAYS, today_utc
from airflow_provider_openai_fusion.models.report import due, render, report_lines
from airflow_provider_openai_fusion.models.scan import scan

READ_TIMEOUT = 10.0
"""Seconds the report waits for ``GET /models`` before it goes on with the table alone."""


def _server_dates(conn_id: str | None) -> tuple[str | None, Mapping[str, date | None] | None, str]:
    if conn_id is None:
        return None, None, "none read (no --conn-id; the table speaks for OpenAI)"
    from airflow_provider_openai_fusion.api.models import list_models
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
    from airflow_provider_openai_fusion.live_models import dates_from

    hook = OpenAIFusionHook(conn_id)
    base_url = hook.settings.base_url
    try:
        body = hook.send_once(list_models(), timeout=READ_TIMEOUT).body
    except Exception as error:  # the report goes on with the table
        return base_url, None, f"not read from {conn_id!r} ({type(error).__name__}: {error})"
    live = dates_from(body.get("data", []) if isinstance(body, dict) else [])
    if live is None:
        return base_url, None, f"{conn_id!r} publishes no shutdown_date"
    return base_url, live, f"GET /models of {conn_id!r} ({sum(day is not None for day in live.values())} dated)"


def _default_folder() -> str:
    return os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or str(
        Path(os.environ.get("AIRFLOW_HOME", "~/airflow")) / "dags"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the command line; return the exit code.

    :param argv: the arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_openai_fusion.models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="list the models the DAG files name, with shutdown dates")
    report.add_argument("dags_folder", nargs="?", default=None, help="default: [core] dags_folder")
    report.add_argument("--conn-id", default=None, help="read the shutdown dates this connection's server publishes")
    report.add_argument("--within", type=int, default=WARNING_DAYS, help="fail when a model dies within N days")
    report.add_argument("--today", type=date.fromisoformat, default=None, help="judge as of YYYY-MM-DD (UTC)")
    args = parser.parse_args(argv)
    folder = Path(args.dags_folder or _default_folder()).expanduser()
    if not folder.exists():
        parser.error(f"DAGS_FOLDER {str(folder)!r}: no such file or folder")
    if args.within < 0:
        parser.error("--within: must be 0 or more days")
    today = args.today or today_utc()
    uses, notes = scan(folder)
    base_url, live, origin = _server_dates(args.conn_id)
    lines = report_lines(uses, base_url=base_url, today=today, live=live)
    for note in notes:
        print(note, file=sys.stderr)
    print(render(lines, today=today, within=args.within, origin=origin))
    return 1 if due(lines, today=today, within=args.within) else 0


if __name__ == "__main__":
    sys.exit(main())

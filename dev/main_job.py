"""
The README's main job: run the tour DAG end to end with ``airflow dags test`` and print what each task made.

By default it starts the stand-in behind ``prism proxy --errors`` (no API key needed), uses a throwaway
``AIRFLOW_HOME`` with a SQLite metadata DB, and stops everything it started. With ``--live`` (and
``OPENAI_API_KEY`` set) it runs only the tour's cheap, non-destructive tasks against api.openai.com.

What it prints: a line per task as it finishes (state, duration, a short result), then the summary table with
the token total, and where the full log is. Airflow's own output (several hundred lines) goes to
``build/main-job/tour-<UTC time>/airflow.log``, next to the servers' logs. Exits non-zero if any task failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from dev.run_report import OK_STATES, duration_text, short_result, task_label
from dev.stack import ROOT, running_stack

DAG_ID = "openai_fusion_tour"


def airflow_env(home: Path, base_url: str, api_key: str) -> dict[str, str]:
    """The environment of a throwaway Airflow whose default connection points at ``base_url``."""
    connection = {"conn_type": "openai_fusion", "host": base_url, "password": api_key, "extra": {"max_retries": 2}}
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": json.dumps(connection),
        "OPENAI_FUSION_OUTPUT_DIR": str(home / "output"),
    }


@contextlib.contextmanager
def api_base(live: bool, api_key: str, log_dir: Path) -> Iterator[str]:
    """The base URL to run against: OpenAI's in live mode, else the stand-in behind Prism (its logs in ``log_dir``)."""
    if live:
        yield "https://api.openai.com/v1"
        return
    with running_stack(api_key, log_dir) as base_url:
        yield base_url


FINISHED_STATES = (*OK_STATES, "failed", "upstream_failed", "removed")
POLL_SECONDS = 0.5
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*(?:Error|Exception|Exit)\w*: .+)$", re.MULTILINE)
REASON_CHARS = 160
FINISHED_SQL = f"""
SELECT ti.task_id, ti.map_index, ti.state, ti.duration, x.value
FROM task_instance AS ti
LEFT JOIN xcom AS x ON x.dag_id = ti.dag_id AND x.run_id = ti.run_id AND x.task_id = ti.task_id
    AND x.map_index = ti.map_index AND x.key = 'return_value'
WHERE ti.dag_id = ? AND ti.state IN ({", ".join("?" * len(FINISHED_STATES))})
ORDER BY ti.end_date
"""


def finished_tasks(db: Path, dag_id: str) -> list[tuple[str, int, str, float | None, object]]:
    """
    The task instances of ``dag_id`` that have finished, oldest first:
    ``(task_id, map_index, state, duration, return_value)``.

    Reads Airflow's SQLite metadata DB directly, read-only (it runs in WAL mode, so reading beside a running
    ``airflow dags test`` is safe); a DB that is busy for a moment gives an empty list, and the next poll catches up.

    :param db: the ``airflow.db`` of the throwaway ``AIRFLOW_HOME``.
    :param dag_id: the DAG id.
    """
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)) as connection:
            rows = connection.execute(FINISHED_SQL, (dag_id, *FINISHED_STATES)).fetchall()
    except sqlite3.OperationalError:
        return []
    return [
        (task_id, map_index, state, duration, json.loads(value) if value else None)
        for task_id, map_index, state, duration, value in rows
    ]


def failure_reason(log: Path, task_id: str, map_index: int) -> str:
    """
    The last exception line (``SomeError: message``) the task wrote to ``log``, cut to one short line.

    :param log: Airflow's log of the run.
    :param task_id: the task id.
    :param map_index: the map index (-1 when not mapped).
    """
    text = log.read_text(encoding="utf-8", errors="replace")
    start = text.rfind(f"[DAG TEST] starting task_id={task_id} map_index={map_index}")
    end = text.find("[DAG TEST] starting ", start + 1)
    errors = EXCEPTION_LINE.findall(text[start : end if end > 0 else None] if start >= 0 else "")
    reason = errors[-1].strip() if errors else "(see the full log)"
    return reason if len(reason) <= REASON_CHARS else f"{reason[: REASON_CHARS - 3]}..."


def follow(process: subprocess.Popen, db: Path, log: Path, dag_id: str) -> int:
    """
    Print a line per task of ``dag_id`` as it finishes, until ``process`` (``airflow dags test``) exits.

    :param process: the running ``airflow dags test``.
    :param db: the metadata DB it writes.
    :param log: where its output goes.
    :param dag_id: the DAG id.
    :return: the process's exit code.
    """
    shown: set[str] = set()
    while True:
        exited = process.poll() is not None
        for task_id, map_index, state, duration, value in finished_tasks(db, dag_id):
            label = task_label(task_id, map_index)
            if label not in shown:
                shown.add(label)
                if state in OK_STATES:
                    result = short_result(value)
                elif state == "upstream_failed":
                    result = "(not run: a task upstream failed)"
                else:
                    result = failure_reason(log, task_id, map_index)
                print(f"  {state:15} {duration_text(duration):>7}  {label:24}  {result}", flush=True)
        if exited:
            return process.returncode
        time.sleep(POLL_SECONDS)


def run_tour(live: bool, keep: bool) -> int:
    """Run the tour; return the process exit code."""
    api_key = os.environ.get("OPENAI_API_KEY", "") if live else f"sk-standin-{secrets.token_hex(8)}"
    if live and not api_key:
        print("--live needs OPENAI_API_KEY in the environment", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="openai-fusion-tour-"))
    (home / "dags").mkdir()
    for dag_file in (ROOT / "example_dags").glob("*.py"):
        shutil.copy(dag_file, home / "dags" / dag_file.name)
    logs = ROOT / "build" / "main-job" / f"tour-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "airflow.log"
    try:
        with api_base(live, api_key, logs) as base_url, log.open("w") as out:
            env = airflow_env(home, base_url, api_key)
            if live:
                env["OPENAI_FUSION_TOUR_LIVE"] = "1"
            airflow = str(Path(sys.executable).with_name("airflow"))
            print(f"Running {DAG_ID} against {base_url} (Airflow's log: {log})", flush=True)
            migrate = subprocess.run([airflow, "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT)
            if migrate.returncode:
                print(f"airflow db migrate failed (exit {migrate.returncode}); see {log}", file=sys.stderr)
                return migrate.returncode
            out.flush()
            test = subprocess.Popen([airflow, "dags", "test", DAG_ID], env=env, stdout=out, stderr=subprocess.STDOUT)
            test_code = follow(test, home / "airflow.db", log, DAG_ID)
            print(flush=True)
            report = subprocess.run([sys.executable, "-m", "dev.run_report", DAG_ID], env=env, cwd=ROOT)
        print(f"Full log: {log} (servers: {logs})" if not live else f"Full log: {log}", flush=True)
        return test_code or report.returncode
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--live", action="store_true", help="run the cheap tasks against api.openai.com")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway AIRFLOW_HOME")
    args = parser.parse_args()
    sys.exit(run_tour(args.live, args.keep))


if __name__ == "__main__":
    main()

"""
Report the latest run of a DAG: each task's state and what it returned (XCom ``return_value``).

Usage: ``python -m dev.run_report [--json] DAG_ID`` with the run's ``AIRFLOW_HOME`` in the environment.
Without ``--json`` it prints a short table. Exits 1 if the run or any task did not succeed (skipped is fine).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

SHOWN_CHARS = 300


def collect_run(dag_id: str) -> tuple[str, dict[str, tuple[str, Any]]]:
    """
    The latest run of ``dag_id``: its state, and ``{task label: (state, return_value)}``.

    :param dag_id: the DAG id.
    """
    from airflow.models import DagRun, TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())).first()
        if run is None:
            return "missing", {}
        tasks: dict[str, tuple[str, Any]] = {}
        instances = session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
            .order_by(TaskInstance.start_date, TaskInstance.task_id, TaskInstance.map_index)
        )
        for ti in instances:
            value = session.scalars(
                select(XComModel.value).where(
                    XComModel.dag_id == dag_id,
                    XComModel.run_id == run.run_id,
                    XComModel.task_id == ti.task_id,
                    XComModel.map_index == ti.map_index,
                    XComModel.key == "return_value",
                )
            ).first()
            label = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            tasks[label] = (str(ti.state), value)
        return str(run.state), tasks


def _short(value: Any) -> str:
    text = "-" if value is None else json.dumps(value, default=str)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text)} chars)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line")
    parser.add_argument("dag_id")
    args = parser.parse_args()
    run_state, tasks = collect_run(args.dag_id)
    if args.json:
        print(json.dumps({"state": run_state, "tasks": tasks}, default=str))
    else:
        print(f"\n{args.dag_id}: run {run_state}")
        for label, (state, value) in tasks.items():
            print(f"  {state:8} {label}: {_short(value)}")
    failed = [label for label, (state, _) in tasks.items() if state not in ("success", "skipped")]
    return 1 if failed or run_state != "success" else 0


if __name__ == "__main__":
    sys.exit(main())

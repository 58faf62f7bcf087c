"""
Report the latest run of a DAG: each task's state, duration and a short result, and the tokens the run used.

Usage: ``python -m dev.run_report [--json] DAG_ID`` with the run's ``AIRFLOW_HOME`` in the environment.
Without ``--json`` it prints a table and the token total (summed over every ``usage`` the tasks returned); with
it, one JSON line ``{"state", "tasks": {label: [state, return_value]}}``. Exits 1 if the run or any task did not
succeed (skipped is fine).

:func:`short_result` and :func:`token_totals` import nothing heavy: the main job uses them for its line per task.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

RESULT_CHARS = 70
OK_STATES = ("success", "skipped")


@dataclass(frozen=True)
class TaskRow:
    """
    One task instance of a run.

    :param state: its state.
    :param duration: seconds it ran, when it ran.
    :param value: its XCom ``return_value``.
    """

    state: str
    duration: float | None
    value: Any


@dataclass(frozen=True)
class Tokens:
    """
    Tokens summed over the ``usage`` objects of a run.

    :param input: input (prompt) tokens.
    :param output: output (completion) tokens.
    :param total: total tokens.
    :param tasks: how many results carried token counts.
    """

    input: int
    output: int
    total: int
    tasks: int


def collect_run(dag_id: str) -> tuple[str, dict[str, TaskRow]]:
    """
    The latest run of ``dag_id``: its state, and ``{task label: TaskRow}``.

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
        tasks: dict[str, TaskRow] = {}
        instances = session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
            .order_by(TaskInstance.end_date, TaskInstance.task_id, TaskInstance.map_index)
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
            tasks[task_label(ti.task_id, ti.map_index)] = TaskRow(str(ti.state), ti.duration, value)
        return str(run.state), tasks


def task_label(task_id: str, map_index: int) -> str:
    """
    ``task_id``, with ``[map_index]`` for a mapped task instance.

    :param task_id: the task id.
    :param map_index: the map index (-1 when not mapped).
    """
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def _clip(text: str, limit: int = RESULT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _short_dict(value: dict[str, Any]) -> str:
    choices = value.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        first = choices[0]
        message = first.get("message")
        text = message.get("content") if isinstance(message, dict) else first.get("text")
        return repr(_clip(str(text or ""), RESULT_CHARS - 2))
    if isinstance(value.get("paths"), list):
        return f"{len(value['paths'])} image(s): {_clip(', '.join(map(str, value['paths'])))}"
    if "count" in value and "path" in value:
        return f"{value['count']} vectors of {value.get('dimensions')} in {value['path']}"
    if isinstance(value.get("data"), list) and value.get("object") == "list":
        return f"{len(value['data'])} embedding(s) from {value.get('model')}"
    if isinstance(value.get("results"), list):
        flagged = sum(1 for result in value["results"] if isinstance(result, dict) and result.get("flagged"))
        return f"{len(value['results'])} moderated, {flagged} flagged"
    if "status_code" in value:
        return f"HTTP {value['status_code']}"
    if isinstance(value.get("text"), str):
        return repr(_clip(value["text"], RESULT_CHARS - 2))
    if "object" in value:
        facts = [str(value.get(key)) for key in ("object", "id", "status", "fine_tuned_model") if value.get(key)]
        if value.get("deleted") is not None:
            facts.append(f"deleted={value['deleted']}")
        return _clip(" ".join(facts))
    return _clip(json.dumps(value, default=str))


def short_result(value: Any) -> str:
    """
    What a task returned, in a few words: the answer text, how many images or vectors, the object and its id.

    :param value: the XCom ``return_value``.
    """
    if value is None:
        return "-"
    if isinstance(value, str):
        return repr(_clip(value, RESULT_CHARS - 2))
    if isinstance(value, list):
        return f"{len(value)} item(s)"
    if isinstance(value, dict):
        return _short_dict(value)
    return _clip(json.dumps(value, default=str))


def _usage_counts(usage: Any) -> tuple[int, int, int] | None:
    if not isinstance(usage, dict):
        return None
    numbers = {key: value for key, value in usage.items() if isinstance(value, int) and not isinstance(value, bool)}
    given = numbers.get("input_tokens", numbers.get("prompt_tokens"))
    made = numbers.get("output_tokens", numbers.get("completion_tokens", 0))
    total = numbers.get("total_tokens")
    if given is None and total is None:
        return None
    given = given or 0
    return given, made, total if total is not None else given + made


def token_totals(values: Iterable[Any]) -> Tokens:
    """
    Sum the token counts of every ``usage`` found in ``values`` (a task's result, or each item of a list result).

    :param values: the XCom ``return_value`` of each task.
    """
    given = made = total = tasks = 0
    for value in values:
        items = value if isinstance(value, list) else [value]
        counts = [c for item in items if isinstance(item, dict) and (c := _usage_counts(item.get("usage")))]
        if counts:
            tasks += 1
            given += sum(c[0] for c in counts)
            made += sum(c[1] for c in counts)
            total += sum(c[2] for c in counts)
    return Tokens(given, made, total, tasks)


def duration_text(seconds: float | None) -> str:
    """
    ``seconds`` as ``0.4s`` or ``2m05s``; ``-`` when the task did not run.

    :param seconds: a duration in seconds.
    """
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def tokens_text(tokens: Tokens) -> str:
    """
    The token line of the summary.

    :param tokens: the run's tokens.
    """
    if not tokens.tasks:
        return "Tokens: none reported"
    return (
        f"Tokens: {tokens.total:,} total ({tokens.input:,} input, {tokens.output:,} output) "
        f"over {tokens.tasks} task(s) that reported usage"
    )


def render_table(dag_id: str, run_state: str, tasks: dict[str, TaskRow]) -> str:
    """
    The summary: a row per task (state, duration, task, short result), then the counts and the token total.

    :param dag_id: the DAG id.
    :param run_state: the run's state.
    :param tasks: the task instances.
    """
    width = max((len(label) for label in tasks), default=4)
    lines = [f"{dag_id}: run {run_state}", f"  {'state':15} {'time':>7}  {'task':{width}}  result"]
    for label, row in tasks.items():
        lines.append(f"  {row.state:15} {duration_text(row.duration):>7}  {label:{width}}  {short_result(row.value)}")
    by_state: dict[str, int] = {}
    for row in tasks.values():
        by_state[row.state] = by_state.get(row.state, 0) + 1
    lines.append("Tasks: " + ", ".join(f"{count} {state}" for state, count in sorted(by_state.items())))
    lines.append(tokens_text(token_totals(row.value for row in tasks.values())))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line")
    parser.add_argument("dag_id")
    args = parser.parse_args()
    run_state, tasks = collect_run(args.dag_id)
    if args.json:
        rows = {label: (row.state, row.value) for label, row in tasks.items()}
        print(json.dumps({"state": run_state, "tasks": rows}, default=str))
    else:
        print(render_table(args.dag_id, run_state, tasks))
    failed = [label for label, row in tasks.items() if row.state not in OK_STATES]
    return 1 if failed or run_state != "success" else 0


if __name__ == "__main__":
    sys.exit(main())

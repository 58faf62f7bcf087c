"""The main job's DAG, run through a real Airflow against the stand-in behind prism proxy --errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, AirflowHome, Stack, connection_json

# The stand-in (up to 120 s), db migrate (up to 120 s), Airflow's services and the test's own waits (each bounded).
pytestmark = [pytest.mark.contract, pytest.mark.airflow, pytest.mark.timeout(1500)]


def test_tour_runs_green(airflow_home: AirflowHome, stack: Stack) -> None:
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    tasks = airflow_home.run_dag(ROOT / "example_dags" / "openai_fusion_tour.py", "openai_fusion_tour", env)
    failed = {label: r.state for label, r in tasks.items() if r.state not in ("success", "skipped")}
    assert tasks and not failed, (failed, airflow_home.last.stdout[-4000:], airflow_home.last.stderr[-4000:])
    assert tasks["retrieve_model"].xcom["id"] == "gpt-5.6-luna"
    assert {m["id"] for m in tasks["list_models"].xcom} >= {"gpt-5.6-luna", "text-embedding-3-small"}
    assert stack.api_key not in airflow_home.last.stdout + airflow_home.last.stderr


def test_main_job_prints_a_line_per_task_the_summary_and_where_the_log_is() -> None:
    job = subprocess.run([sys.executable, "-m", "dev.main_job"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = job.stdout
    assert job.returncode == 0, (out[-4000:], job.stderr[-4000:])
    lines = out.splitlines()
    assert len(lines) < 80, out
    head, _, summary = out.partition("\nopenai_fusion_tour: run success\n")
    task_lines = [line for line in head.splitlines() if line.startswith("  ")]
    summary_rows = [line for line in summary.splitlines() if line.startswith("  success")]
    assert len(task_lines) == len(summary_rows) >= 20
    assert re.search(r"^  success +\d+\.\ds  generate_image +1 image\(s\): ", head, re.MULTILINE), head
    assert re.search(r"^  success +\d+\.\ds  chat +'.+'$", head, re.MULTILINE), head
    tokens = re.search(r"^Tokens: ([\d,]+) total \(([\d,]+) input, ([\d,]+) output\)", summary, re.MULTILINE)
    assert tokens, summary
    total, given, made = (int(group.replace(",", "")) for group in tokens.groups())
    assert total == given + made > 0
    log = Path(re.search(r"^Full log: (\S+)", summary, re.MULTILINE).group(1))
    text = log.read_text()
    assert "[DAG TEST] end task task_id=ft_delete_model" in text and "[DAG TEST]" not in out
    assert len(text.splitlines()) > 5 * len(lines)

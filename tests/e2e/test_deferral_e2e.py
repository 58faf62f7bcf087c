"""
A fine-tuning DAG through a real Airflow: api-server, scheduler, triggerer and dag-processor on 127.0.0.1
(LocalExecutor, SQLite), triggered through the REST API; the sensor goes deferred, the triggerer polls the
stand-in (behind prism proxy --errors) with the async client, and the run succeeds. The connection lives in
the metadata DB, so the triggerer's connection lookup is exercised too. Every process is stopped at the end.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dev.stack import free_port, running_stack
from tests.conftest import ROOT, Stack
from tests.e2e.services import airflow_env, airflow_services, prepare_home, start_run, track, wait_for

# The stand-in (up to 120 s), db migrate (up to 120 s), Airflow's services and the test's own waits (each bounded).
pytestmark = [pytest.mark.contract, pytest.mark.airflow, pytest.mark.timeout(1500)]

DAG_ID = "openai_fusion_fine_tuning"
JOB_STEP_SECONDS = 4.0  # a job takes 12 s: long enough for the sensor to find it unfinished and defer


@pytest.fixture
def slow_stack(tmp_path: Path) -> Iterator[Stack]:
    """The stand-in behind prism proxy --errors, with jobs slower than the session's."""
    api_key = f"sk-standin-{secrets.token_hex(8)}"
    with running_stack(api_key, tmp_path / "stack-logs", job_step_seconds=JOB_STEP_SECONDS) as base_url:
        yield Stack(base_url, api_key)


def test_fine_tuning_dag_defers_in_a_real_triggerer_and_succeeds(slow_stack: Stack, tmp_path: Path) -> None:
    stack = slow_stack
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "example_dags" / "fine_tuning.py", home / "dags" / "fine_tuning.py")
    port = free_port()
    env = airflow_env(home, port)
    prepare_home(env, stack)

    with airflow_services(home, env, port) as api, httpx.Client(base_url=f"{api}/api/v2", timeout=10) as client:
        run_id = start_run(client, DAG_ID, home)
        seen: list[str] = []
        wait_for("the sensor to finish", lambda: track(client, DAG_ID, run_id, "wait_for_job", seen), 90, home)
        assert "deferred" in seen and seen[-1] == "success", seen
        wait_for(
            "the run to finish",
            lambda: client.get(f"/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"] in ("success", "failed"),
            60,
            home,
        )
        instances = client.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        assert {ti["task_id"]: ti["state"] for ti in instances} == {ti["task_id"]: "success" for ti in instances}, (
            instances
        )
        assert len(instances) == 7

    trigger_logs = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*trigger*") if p.is_file())
    assert "[info] Step 1/3: training loss=" in trigger_logs
    assert "The job has successfully completed" in trigger_logs
    everything = "".join(p.read_text(errors="replace") for p in home.rglob("*.out")) + trigger_logs
    assert stack.api_key not in everything

"""
A fine-tuning DAG through a real Airflow: api-server, scheduler, triggerer and dag-processor on 127.0.0.1
(LocalExecutor, SQLite), triggered through the REST API; the sensor goes deferred, the triggerer polls the
stand-in (behind prism proxy --errors) with the async client, and the run succeeds. The connection lives in
the metadata DB, so the triggerer's connection lookup is exercised too. Every process is stopped at the end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dev.stack import free_port, running_stack, stop_process
from tests.conftest import ROOT, Stack, connection_json

pytestmark = [pytest.mark.contract, pytest.mark.airflow]

DAG_ID = "openai_fusion_fine_tuning"
COMPONENTS = ("api-server", "scheduler", "triggerer", "dag-processor")
JOB_STEP_SECONDS = 4.0  # a job takes 12 s: long enough for the sensor to find it unfinished and defer


@pytest.fixture
def slow_stack(tmp_path: Path) -> Iterator[Stack]:
    """The stand-in behind prism proxy --errors, with jobs slower than the session's."""
    api_key = f"sk-standin-{secrets.token_hex(8)}"
    with running_stack(api_key, tmp_path / "stack-logs", job_step_seconds=JOB_STEP_SECONDS) as base_url:
        yield Stack(base_url, api_key)


@contextlib.contextmanager
def airflow_services(home: Path, env: dict[str, str], port: int) -> Iterator[str]:
    """Run the four components; yield the api-server's URL; stop them all (also on failure)."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    processes: list[subprocess.Popen[bytes]] = []
    commands = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(port)],
        "scheduler": ["scheduler", "--skip-serve-logs"],
        "triggerer": ["triggerer", "--skip-serve-logs"],
        "dag-processor": ["dag-processor"],
    }
    try:
        for name in COMPONENTS:
            with (home / f"{name}.out").open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [airflow, *commands[name]], env=env, stdout=out, stderr=out, start_new_session=True
                    )
                )
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in processes:
            stop_process(process)


def _wait_for(what: str, check: object, timeout: float, home: Path) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if result := check():  # type: ignore[operator]
                return result
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in home.glob("*.out"))
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def test_fine_tuning_dag_defers_in_a_real_triggerer_and_succeeds(slow_stack: Stack, tmp_path: Path) -> None:
    stack = slow_stack
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "example_dags" / "fine_tuning.py", home / "dags" / "fine_tuning.py")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "PYTEST_"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "OPENAI_FUSION_OUTPUT_DIR": str(home / "output"),
        }
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=120)
    connection = connection_json(stack.base_url, stack.api_key)
    added = subprocess.run(
        [airflow, "connections", "add", "openai_fusion_default", "--conn-json", connection],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr[-2000:]

    with airflow_services(home, env, port) as api, httpx.Client(base_url=f"{api}/api/v2", timeout=10) as client:
        _wait_for("the api-server", lambda: client.get("/monitor/health").status_code == 200, 60, home)
        _wait_for("the DAG to be parsed", lambda: client.get(f"/dags/{DAG_ID}").status_code == 200, 60, home)
        assert client.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
        created = client.post(f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
        assert created.status_code == 200, created.text
        run_id = created.json()["dag_run_id"]
        seen: list[str] = []

        def sensor_done() -> bool:
            ti = client.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/wait_for_job").json()
            if not seen or seen[-1] != ti.get("state"):
                seen.append(ti.get("state"))
            return ti.get("state") in ("success", "failed", "upstream_failed")

        _wait_for("the sensor to finish", sensor_done, 90, home)
        assert "deferred" in seen and seen[-1] == "success", seen
        _wait_for(
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

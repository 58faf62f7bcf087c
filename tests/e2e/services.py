"""
A real Airflow on 127.0.0.1 for the end-to-end tests: api-server, scheduler, triggerer and dag-processor
(LocalExecutor, SQLite) in a throwaway home, the connection in its metadata DB, every process stopped at the end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from dev.stack import stop_process
from tests.conftest import Stack, connection_json

COMPONENTS = ("api-server", "scheduler", "triggerer", "dag-processor")
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def airflow_env(home: Path, port: int) -> dict[str, str]:
    """The environment of every component: this home, LocalExecutor, fast heartbeats, the api-server's port."""
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
    return env


def prepare_home(env: dict[str, str], stack: Stack) -> None:
    """Migrate the metadata DB and add the connection to the stand-in there (so the triggerer looks it up)."""
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=120)
    connection = connection_json(stack.base_url, stack.api_key)
    added = subprocess.run(
        [AIRFLOW, "connections", "add", "openai_fusion_default", "--conn-json", connection],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr[-2000:]


@contextlib.contextmanager
def airflow_services(home: Path, env: dict[str, str], port: int) -> Iterator[str]:
    """Run the four components; yield the api-server's URL; stop them all (also on failure)."""
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
                        [AIRFLOW, *commands[name]], env=env, stdout=out, stderr=out, start_new_session=True
                    )
                )
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in processes:
            stop_process(process)


def wait_for(what: str, check: Callable[[], Any], timeout: float, home: Path) -> Any:
    """Call ``check`` until it returns something true; fail with the components' logs after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if result := check():
                return result
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in home.glob("*.out"))
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def start_run(client: httpx.Client, dag_id: str, home: Path, *, scheduled: bool = False) -> str:
    """
    Wait for the api-server and the DAG, unpause it, and return the id of its run: the one the scheduler starts on
    unpausing with ``scheduled`` (a DAG with a schedule), else one triggered through the REST API.
    """
    wait_for("the api-server", lambda: client.get("/monitor/health").status_code == 200, 60, home)
    wait_for("the DAG to be parsed", lambda: client.get(f"/dags/{dag_id}").status_code == 200, 60, home)
    assert client.patch(f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
    if scheduled:
        runs = wait_for("the scheduled run", lambda: client.get(f"/dags/{dag_id}/dagRuns").json()["dag_runs"], 60, home)
        return runs[0]["dag_run_id"]
    created = client.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
    assert created.status_code == 200, created.text
    return created.json()["dag_run_id"]


def track(client: httpx.Client, dag_id: str, run_id: str, task_id: str, seen: list[str]) -> bool:
    """Record the task's state changes in ``seen``; whether it has finished."""
    ti = client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}").json()
    if not seen or seen[-1] != ti.get("state"):
        seen.append(ti.get("state"))
    return ti.get("state") in ("success", "failed", "upstream_failed")

"""
Batches through a real Airflow (api-server, scheduler, triggerer, dag-processor on 127.0.0.1; LocalExecutor, SQLite):
a task whose first try fails after its batch completed is retried and re-attaches to that batch (one batch in all,
results joined), and killing a deferred task (marking it failed) cancels its batch from the triggerer. Bounded: every
wait has a deadline, and every process is stopped at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion.api import batches
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from dev.stack import free_port
from tests.conftest import ROOT, Stack, connection_json
from tests.e2e.services import airflow_env, airflow_services, wait_for

# The stand-in (up to 120 s), db migrate (up to 120 s), Airflow's services and the test's own waits (each bounded).
pytestmark = [pytest.mark.contract, pytest.mark.airflow, pytest.mark.timeout(1500)]

DAG_ID = "openai_fusion_batch_e2e"


def batches_of(hook: OpenAIFusionHook, task_id: str) -> list[dict[str, Any]]:
    found = hook.paginate(batches.list_batches())
    return [batch for batch in found if (batch.get("metadata") or {}).get("airflow_task_id") == task_id]


def trigger_log(home: Path, task_id: str) -> str:
    files = (home / "logs").rglob(f"task_id={task_id}/*trigger*")
    return "".join(path.read_text(errors="replace") for path in files if path.is_file())


def test_a_retry_re_attaches_and_a_kill_cancels(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "e2e" / "dags" / "batch_retry_and_kill.py", home / "dags")
    port = free_port()
    env = airflow_env(home, port)
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=120)
    connection = connection_json(stack.base_url, stack.api_key, max_retries=0)
    added = subprocess.run(
        [airflow, "connections", "add", "openai_fusion_default", "--conn-json", connection],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr[-2000:]
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_DEFAULT", connection_json(stack.base_url, stack.api_key))
    hook = OpenAIFusionHook()

    with airflow_services(home, env, port) as api, httpx.Client(base_url=f"{api}/api/v2", timeout=10) as client:
        wait_for("the api-server", lambda: client.get("/monitor/health").status_code == 200, 90, home)
        wait_for("the DAG to be parsed", lambda: client.get(f"/dags/{DAG_ID}").status_code == 200, 90, home)
        assert client.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
        created = client.post(f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
        assert created.status_code == 200, created.text
        run = f"/dags/{DAG_ID}/dagRuns/{created.json()['dag_run_id']}"

        def state(task_id: str) -> str | None:
            return client.get(f"{run}/taskInstances/{task_id}").json().get("state")

        wait_for("the killed task to defer", lambda: state("killed") == "deferred", 120, home)
        wait_for("the triggerer to poll its batch", lambda: "is in_progress" in trigger_log(home, "killed"), 60, home)
        marked = client.patch(f"{run}/taskInstances/killed", json={"new_state": "failed"})
        assert marked.status_code == 200, marked.text
        wait_for(
            "the held batch to be cancelled",
            lambda: [b["status"] for b in batches_of(hook, "killed")] in (["cancelling"], ["cancelled"]),
            60,
            home,
        )
        wait_for("the retried task to finish", lambda: state("reattach") in ("success", "failed"), 180, home)
        reattach = client.get(f"{run}/taskInstances/reattach").json()
        assert reattach["state"] == "success" and reattach["try_number"] == 2, reattach

    (batch,) = batches_of(hook, "reattach")
    assert batch["status"] == "completed" and batch["metadata"]["airflow_batch_part"] == "1/1"
    results = list((home / "output" / "batch_e2e").rglob("reattach.jsonl"))
    assert len(results) == 1
    lines = [json.loads(line) for line in results[0].read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"request-{n}" for n in range(5)]
    logs = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    assert "re-attaching to batch" in logs and batch["id"] in logs
    assert stack.api_key not in logs
    hook.close()

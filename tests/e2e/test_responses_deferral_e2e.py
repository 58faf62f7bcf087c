"""
Background responses through a real Airflow (api-server, scheduler, triggerer, dag-processor on 127.0.0.1,
LocalExecutor, SQLite), against the stand-in behind prism proxy --errors: the example DAG's response is waited
for in the triggerer and the run succeeds; a deferred response killed by the user (task marked failed) is
cancelled by the trigger's on_kill; a try whose process dies (SIGKILL) while waiting is retried, and the retry
re-attaches to the same response through the task instance's task_state_store instead of creating another.
Bounded: every wait has a timeout and every process is stopped at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dev.stack import free_port
from tests.conftest import ROOT, Stack, connection_json
from tests.e2e.services import airflow_env, airflow_services, wait_for

# The stand-in (up to 120 s), db migrate (up to 120 s), Airflow's services and the test's own waits (each bounded).
pytestmark = [pytest.mark.contract, pytest.mark.airflow, pytest.mark.timeout(1500)]

BACKGROUND = "openai_fusion_responses_background"
KILLED = "openai_fusion_responses_cancel_on_kill"
RETRIED = "openai_fusion_responses_retry"


def test_background_response_waits_in_the_triggerer_and_a_killed_one_is_cancelled(stack: Stack, tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "example_dags" / "responses_background.py", home / "dags")
    shutil.copy(ROOT / "tests" / "e2e" / "dags" / "responses_cancel_on_kill.py", home / "dags")
    shutil.copy(ROOT / "tests" / "e2e" / "dags" / "responses_retry.py", home / "dags")
    port = free_port()
    env = airflow_env(home, port)
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
        wait_for("the api-server", lambda: client.get("/monitor/health").status_code == 200, 60, home)
        runs = {}

        def start(dag_id: str) -> None:
            wait_for(f"{dag_id} to be parsed", lambda: client.get(f"/dags/{dag_id}").status_code == 200, 60, home)
            assert client.patch(f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
            created = client.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
            assert created.status_code == 200, created.text
            runs[dag_id] = created.json()["dag_run_id"]

        start(BACKGROUND)
        start(KILLED)

        def states(dag_id: str, task_id: str, seen: list[str]) -> str:
            ti = client.get(f"/dags/{dag_id}/dagRuns/{runs[dag_id]}/taskInstances/{task_id}").json()
            if not seen or seen[-1] != ti.get("state"):
                seen.append(ti.get("state"))
            return str(ti.get("state"))

        research: list[str] = []
        wait_for(
            "research to finish", lambda: states(BACKGROUND, "research", research) in ("success", "failed"), 120, home
        )
        assert "deferred" in research and research[-1] == "success", research
        wait_for(
            "the background run to finish",
            lambda: (
                client.get(f"/dags/{BACKGROUND}/dagRuns/{runs[BACKGROUND]}").json()["state"] in ("success", "failed")
            ),
            90,
            home,
        )
        instances = client.get(f"/dags/{BACKGROUND}/dagRuns/{runs[BACKGROUND]}/taskInstances").json()
        assert {ti["task_id"]: ti["state"] for ti in instances["task_instances"]} == dict.fromkeys(
            ("research", "follow_up", "publish"), "success"
        )

        waiting: list[str] = []
        wait_for(
            "the never-ending response to defer",
            lambda: states(KILLED, "wait_forever", waiting) == "deferred",
            90,
            home,
        )
        marked = client.patch(
            f"/dags/{KILLED}/dagRuns/{runs[KILLED]}/taskInstances/wait_forever", json={"new_state": "failed"}
        )
        assert marked.status_code == 200, marked.text
        logs = home / "logs"

        def killed_response_id() -> str | None:
            found = set()
            for path in logs.rglob("*"):
                if path.is_file() and "wait_forever" in str(path):
                    found |= set(re.findall(r"Created response (resp_[0-9a-f]+)", path.read_text(errors="replace")))
            assert len(found) <= 1, found
            return next(iter(found), None)

        response_id = wait_for("the killed task's response id in its log", killed_response_id, 30, home)
        headers = {"Authorization": f"Bearer {stack.api_key}"}

        def cancelled() -> bool:
            answer = httpx.get(f"{stack.base_url}/responses/{response_id}", headers=headers, timeout=10)
            return answer.json()["status"] == "cancelled"

        # The trigger's on_kill runs after the triggerer has detached the trigger's log: check the API, not a log.
        wait_for("the trigger's on_kill to cancel the response", cancelled, 60, home)

        start(RETRIED)

        def log_of(attempt: int) -> str:
            paths = logs.glob(f"dag_id={RETRIED}/*/task_id=slow_answer/attempt={attempt}.log")
            return "".join(p.read_text(errors="replace") for p in paths)

        wait_for("the first try to create its response", lambda: "Created response" in log_of(1), 90, home)
        ti_url = f"/dags/{RETRIED}/dagRuns/{runs[RETRIED]}/taskInstances/slow_answer"
        pid = client.get(ti_url).json()["pid"]
        os.kill(pid, signal.SIGKILL)  # the task process of the first try, started by our scheduler
        tries: list[str] = []
        wait_for(
            "the retry to finish", lambda: states(RETRIED, "slow_answer", tries) in ("success", "failed"), 120, home
        )
        assert client.get(ti_url).json()["try_number"] == 2 and tries[-1] == "success", tries
        (first,) = re.findall(r"Created response (resp_[0-9a-f]+)", log_of(1))
        assert "Created response" not in log_of(2)
        assert f"Re-attaching to response {first} (in_progress) of an earlier try" in log_of(2)

    task_logs = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    assert task_logs.count("Re-attaching") == 1 and stack.api_key not in task_logs

"""
The nightly vector-store sync through a real Airflow (api-server, scheduler, triggerer, dag-processor on
127.0.0.1), against the stand-in behind prism proxy --errors: the sync task uploads the documents, starts a file
batch, goes deferred, the triggerer polls the batch with the async client until it settles, the task resumes and
the search over the store finds the right document; the Responses call with the file_search tool follows.
Bounded: at most about four minutes, every process stopped.
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

DAG_ID = "openai_fusion_vector_store_nightly_sync"
DAG_FILE = ROOT / "example_dags" / "vector_store_nightly_sync.py"


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stand-in of this test's own: the session's may already hold the handbook (unchanged: nothing to wait for)."""
    api_key = f"sk-standin-{secrets.token_hex(8)}"
    with running_stack(api_key, tmp_path / "stack-logs") as base_url:
        yield Stack(base_url, api_key)


def xcom(client: httpx.Client, run_id: str, task_id: str) -> object:
    answer = client.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
    return answer.json()["value"]


def test_nightly_sync_waits_for_its_file_batch_in_the_triggerer(own_stack: Stack, tmp_path: Path) -> None:
    stack = own_stack
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(DAG_FILE, home / "dags" / DAG_FILE.name)
    port = free_port()
    env = airflow_env(home, port)
    prepare_home(env, stack)

    with airflow_services(home, env, port) as api, httpx.Client(base_url=f"{api}/api/v2", timeout=10) as client:
        run_id = start_run(client, DAG_ID, home, scheduled=True)
        seen: list[str] = []
        wait_for("the sync to finish", lambda: track(client, DAG_ID, run_id, "sync_handbook", seen), 120, home)
        assert "deferred" in seen and seen[-1] == "success", seen
        searched: list[str] = []
        wait_for("the search", lambda: track(client, DAG_ID, run_id, "search_handbook", searched), 60, home)
        assert searched[-1] == "success", searched
        answered: list[str] = []
        wait_for("the answer", lambda: track(client, DAG_ID, run_id, "answer_with_file_search", answered), 60, home)
        assert answered[-1] == "success", answered
        synced = xcom(client, run_id, "sync_handbook")
        results = xcom(client, run_id, "search_handbook")

    assert sorted(item["filename"] for item in synced["added"]) == ["expenses.md", "holidays.md", "security.md"]
    assert synced["removed"] == synced["unchanged"] == synced["failed"] == []
    assert results[0]["filename"] == "holidays.md"
    trigger_logs = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    assert "3 completed, 0 failed, 0 in_progress, 0 cancelled of 3 files" in trigger_logs
    everything = "".join(p.read_text(errors="replace") for p in home.rglob("*.out")) + trigger_logs
    assert stack.api_key not in everything

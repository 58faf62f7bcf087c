"""
Shared fixtures.

- ``make_hook``: a hook on an env-var connection whose HTTP goes to an ``httpx.MockTransport`` handler.
- ``stack``: the stand-in behind ``prism proxy --errors`` (one per session), with its API key.
- ``airflow_home``: a throwaway AIRFLOW_HOME with a migrated SQLite DB and a dags folder; ``run_dag`` runs a
  DAG file in it with ``airflow dags test`` and returns each task's state and XCom.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

_HOME = Path(tempfile.mkdtemp(prefix="openai-fusion-tests-"))
os.environ.setdefault("AIRFLOW_HOME", str(_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# Off for the suite (its request counts predate the read of GET /models); tests of that read turn it on.
os.environ.setdefault("AIRFLOW__OPENAI_FUSION__LIVE_MODEL_DATES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(_HOME / "dags"))

ROOT = Path(__file__).resolve().parent.parent
SENTINEL_KEY = "sk-test-SENTINEL-0123456789abcdef"


def connection_json(base_url: str, api_key: str = SENTINEL_KEY, **extra: Any) -> str:
    """The JSON form of an ``openai_fusion`` connection."""
    return json.dumps({"conn_type": "openai_fusion", "host": base_url, "password": api_key, "extra": extra})


@pytest.fixture
def make_hook(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Build a hook whose requests go to ``handler``; the connection lives in an env var."""
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

    def factory(
        handler: Callable[[httpx.Request], httpx.Response],
        conn_id: str = "openai_fusion_default",
        base_url: str = "https://api.test/v1",
        **extra: Any,
    ) -> OpenAIFusionHook:
        extra.setdefault("max_retries", 0)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(base_url, **extra))
        return OpenAIFusionHook(conn_id=conn_id, transport=httpx.MockTransport(handler))

    return factory


@dataclass(frozen=True)
class Stack:
    """The stand-in behind Prism."""

    base_url: str
    api_key: str


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stand-in behind ``prism proxy --errors``; its jobs move every 0.3 s."""
    from dev.stack import running_stack

    api_key = f"sk-standin-{secrets.token_hex(8)}"
    with running_stack(api_key, tmp_path_factory.mktemp("stack-logs"), job_step_seconds=0.3) as base_url:
        yield Stack(base_url, api_key)


@dataclass(frozen=True)
class TaskResult:
    """One task instance of a finished run."""

    state: str
    xcom: Any


class AirflowHome:
    """A throwaway AIRFLOW_HOME with a migrated DB; runs DAG files with ``airflow dags test``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dags = home / "dags"
        self.dags.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "OPENAI_FUSION_OUTPUT_DIR": str(home / "output"),
        }
        self.airflow(["db", "migrate"])

    def airflow(self, args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the airflow CLI in this home."""
        command = [str(Path(sys.executable).with_name("airflow")), *args]
        return subprocess.run(command, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=600)

    def run_dag(self, dag_file: Path, dag_id: str, env: dict[str, str] | None = None) -> dict[str, TaskResult]:
        """
        Copy ``dag_file`` into the dags folder, run it with ``airflow dags test``, return ``{task label: result}``.

        :param dag_file: the DAG file.
        :param dag_id: the DAG id.
        :param env: extra environment (connections as ``AIRFLOW_CONN_*``).
        """
        shutil.copy(dag_file, self.dags / dag_file.name)
        self.last = self.airflow(["dags", "test", dag_id], env)
        command = [sys.executable, "-m", "dev.run_report", "--json", dag_id]
        report = subprocess.run(command, env={**self.env, **(env or {})}, capture_output=True, text=True, cwd=ROOT)
        assert report.stdout.strip(), report.stderr[-3000:]
        rows = json.loads(report.stdout.strip().splitlines()[-1])["tasks"]
        return {label: TaskResult(state, xcom) for label, (state, xcom) in rows.items()}


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> AirflowHome:
    """A throwaway AIRFLOW_HOME with a migrated SQLite DB (one per session)."""
    return AirflowHome(tmp_path_factory.mktemp("airflow-home"))

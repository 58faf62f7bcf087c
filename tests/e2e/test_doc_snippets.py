"""
Every DAG of the documentation (``docs/snippets/``) runs green with ``airflow dags test`` against the stand-in behind
``prism proxy --errors``: the code a reader copies from the site works as shown.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, AirflowHome, Stack, connection_json

pytestmark = [pytest.mark.contract, pytest.mark.airflow]
SNIPPETS = sorted((ROOT / "docs" / "snippets").glob("*.py"))


@pytest.fixture(scope="module")
def pool(airflow_home: AirflowHome) -> str:
    """The pool that docs/snippets/pools.py shares (the page says to create it first)."""
    made = airflow_home.airflow(["pools", "set", "openai_fusion", "8", "OpenAI calls"])
    assert made.returncode == 0, made.stderr[-2000:]
    return "openai_fusion"


@pytest.mark.timeout(600)  # one `airflow dags test` run; the fine-tuning and batch snippets wait for their jobs
@pytest.mark.parametrize("snippet", SNIPPETS, ids=[path.stem for path in SNIPPETS])
def test_the_snippet_runs_green_against_the_stand_in(
    snippet: Path, airflow_home: AirflowHome, stack: Stack, pool: str
) -> None:
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    tasks = airflow_home.run_dag(snippet, f"docs_{snippet.stem}", env)
    not_green = {label: result.state for label, result in tasks.items() if result.state != "success"}
    assert tasks and not not_green, (not_green, airflow_home.last.stdout[-3000:], airflow_home.last.stderr[-3000:])
    assert stack.api_key not in airflow_home.last.stdout + airflow_home.last.stderr

"""The main job's DAG, run through a real Airflow against the stand-in behind prism proxy --errors."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, AirflowHome, Stack, connection_json

pytestmark = [pytest.mark.contract, pytest.mark.airflow]


def test_tour_runs_green(airflow_home: AirflowHome, stack: Stack) -> None:
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    tasks = airflow_home.run_dag(ROOT / "example_dags" / "openai_fusion_tour.py", "openai_fusion_tour", env)
    failed = {label: r.state for label, r in tasks.items() if r.state not in ("success", "skipped")}
    assert tasks and not failed, (failed, airflow_home.last.stdout[-4000:], airflow_home.last.stderr[-4000:])
    assert tasks["retrieve_model"].xcom["id"] == "gpt-4o-mini"
    assert {m["id"] for m in tasks["list_models"].xcom} >= {"gpt-4o-mini", "text-embedding-3-small"}
    assert stack.api_key not in airflow_home.last.stdout + airflow_home.last.stderr

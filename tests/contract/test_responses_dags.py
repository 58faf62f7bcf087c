"""
The two Responses example DAGs through ``airflow dags test`` against the stand-in behind Prism: the DAGs run and
their calls have the shapes of OpenAI's spec; the extracted values are the stand-in's answers, not a model's.
"""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, AirflowHome, Stack, connection_json

# The stand-in (up to 120 s) + airflow_home (db migrate, up to 120 s) + run_dag (up to 600 s), with slack.
pytestmark = [pytest.mark.contract, pytest.mark.airflow, pytest.mark.timeout(1200)]


def test_structured_extraction_maps_over_documents_and_reads_output_parsed(
    airflow_home: AirflowHome, stack: Stack
) -> None:
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    dag_file = ROOT / "example_dags" / "responses_structured_extraction.py"
    tasks = airflow_home.run_dag(dag_file, "openai_fusion_responses_structured_extraction", env)
    output = airflow_home.last.stdout + airflow_home.last.stderr
    assert {label: task.state for label, task in tasks.items()} == {
        "fetch_documents": "success",
        "extract[0]": "success",
        "extract[1]": "success",
        "extract[2]": "success",
        "totals": "success",
    }, output[-3000:]
    parsed = tasks["extract[1]"].xcom["output_parsed"]
    assert set(parsed) == {"supplier", "invoice_number", "currency", "due_date", "items"}
    assert tasks["totals"].xcom == {"example example": 1.5}
    assert stack.api_key not in output


def test_the_background_dag_waits_and_continues_the_conversation(airflow_home: AirflowHome, stack: Stack) -> None:
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    tasks = airflow_home.run_dag(
        ROOT / "example_dags" / "responses_background.py", "openai_fusion_responses_background", env
    )
    output = airflow_home.last.stdout + airflow_home.last.stderr
    assert {label: task.state for label, task in tasks.items()} == dict.fromkeys(
        ("research", "follow_up", "publish"), "success"
    ), output[-3000:]
    assert tasks["research"].xcom["background"] is True and tasks["research"].xcom["status"] == "completed"
    assert tasks["follow_up"].xcom["previous_response_id"] == tasks["research"].xcom["id"]
    assert tasks["publish"].xcom["summary"].startswith("Here is a short answer")

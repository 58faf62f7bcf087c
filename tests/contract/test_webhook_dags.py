"""
The webhook example's submit and safety-net DAGs through ``airflow dags test`` against the stand-in behind Prism
(the results DAG, which needs a webhook, runs in tests/e2e/test_webhooks_e2e.py): the submit DAG returns the batch
id at once; the safety net lists the batches, finds none that completed a day ago without an event, and records
nothing.
"""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, AirflowHome, Stack, connection_json

# The stand-in (up to 120 s) + airflow_home (db migrate, up to 120 s) + two run_dag (up to 600 s each), with slack.
pytestmark = [pytest.mark.contract, pytest.mark.airflow, pytest.mark.timeout(1500)]
DAG_FILE = ROOT / "example_dags" / "batch_webhook_nightly.py"


def test_submit_returns_at_once_and_the_safety_net_records_nothing_new(airflow_home: AirflowHome, stack: Stack) -> None:
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    submit = airflow_home.run_dag(DAG_FILE, "openai_fusion_webhook_batch_submit", env)
    output = airflow_home.last.stdout + airflow_home.last.stderr
    assert {label: task.state for label, task in submit.items()} == {
        "build_requests": "success",
        "submit": "success",
    }, output[-3000:]
    (batch_id,) = submit["submit"].xcom["batch_ids"]
    assert batch_id.startswith("batch_")

    net = airflow_home.run_dag(DAG_FILE, "openai_fusion_webhook_batch_safety_net", env)
    output = airflow_home.last.stdout + airflow_home.last.stderr
    assert net["missed_webhooks"].state == "success", output[-3000:]
    assert net["missed_webhooks"].xcom == [], "a batch submitted seconds ago is not a missed webhook"
    assert all(task.state == "skipped" for label, task in net.items() if label.startswith("record_event")), net
    assert stack.api_key not in output

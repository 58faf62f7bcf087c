"""
Cost reports against the stand-in behind Prism: the organization Costs and Usage APIs read page after page with
the admin key, the run report over a mapped DAG, and the FinOps example DAG.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion.exceptions import AuthenticationError, ConnectionConfigError
from airflow_provider_openai_fusion.operators import OpenAIUsageReportOperator
from dev.standin.organization import COST_PER_LINE, PAGE_BUCKETS, admin_key
from tests.conftest import ROOT, AirflowHome, Stack, connection_json

pytestmark = [pytest.mark.contract, pytest.mark.timeout(300)]

START = int(datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp())
DAYS = 7


def report(monkeypatch: pytest.MonkeyPatch, stack: Stack, **extra: Any) -> OpenAIUsageReportOperator:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_DEFAULT", connection_json(stack.base_url, stack.api_key, **extra))
    return OpenAIUsageReportOperator(
        task_id="org", source="organization", start_time=START, end_time=START + DAYS * 86_400, group_by="project_id"
    )


def test_organization_report_reads_every_page_with_the_admin_key(
    monkeypatch: pytest.MonkeyPatch, stack: Stack, tmp_path: Path
) -> None:
    operator = report(monkeypatch, stack, admin_api_key=admin_key(stack.api_key))
    operator.group_by = ["project_id", "line_item", "model"]
    operator.output_path = str(tmp_path / "org.csv")
    assert DAYS > PAGE_BUCKETS * 2  # several pages per endpoint
    summary = operator.execute({})
    rows = list(csv.DictReader((tmp_path / "org.csv").read_text().splitlines()))
    # costs by project and line item: 2 projects x 4 line items a day; completions by project and model: 2 x 2.
    assert summary["rows"]["costs"] == DAYS * 8
    assert summary["rows"]["completions"] == DAYS * 4
    assert summary["rows"]["vector_stores"] == DAYS * 2
    assert summary["total_cost"] == {"usd": pytest.approx(COST_PER_LINE * 8 * sum(range(1, DAYS + 1)))}
    assert len(rows) == sum(summary["rows"].values())
    days = sorted({row["start_time"] for row in rows if row["source"] == "costs"})
    assert days[0] == "2026-11-01T00:00:00+00:00" and len(days) == DAYS
    first = next(row for row in rows if row["source"] == "completions")
    assert first["model"] in ("gpt-5.6-luna", "gpt-6-luna") and first["project_id"].startswith("proj_")
    assert json.dumps(summary).count("proj_") == 0  # the XCom stays small: counts and totals only


def test_organization_report_needs_the_admin_key_and_the_api_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, stack: Stack
) -> None:
    with pytest.raises(ConnectionConfigError, match="admin_api_key"):
        report(monkeypatch, stack).execute({})
    with pytest.raises(AuthenticationError, match="insufficient permissions"):
        report(monkeypatch, stack, admin_api_key=stack.api_key).execute({})


@pytest.mark.airflow
@pytest.mark.timeout(1200)  # airflow_home (up to 120 s) + run_dag (up to 600 s), with slack
def test_run_report_over_a_mapped_dag(airflow_home: AirflowHome, stack: Stack) -> None:
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    tasks = airflow_home.run_dag(
        Path(__file__).parent / "dags" / "cost_mapped_run.py", "openai_fusion_cost_mapped_run", env
    )
    output = airflow_home.last.stdout + airflow_home.last.stderr
    assert {label: task.state for label, task in tasks.items()} == dict.fromkeys(
        ("answer[0]", "answer[1]", "answer[2]", "embed", "report"), "success"
    ), output[-3000:]
    summary = tasks["report"].xcom
    by_task = {row["task_id"]: row for row in summary["by_task"]}
    assert by_task["answer"]["calls"] == 3 and by_task["embed"]["calls"] == 1
    by_model = {row["model"]: row for row in summary["by_model"]}
    assert set(by_model) == {"gpt-5.6-luna", "text-embedding-3-small"}
    luna = by_model["gpt-5.6-luna"]
    expected = (luna["input_tokens"] * 0.20 + luna["output_tokens"] * 1.20) / 1_000_000
    assert luna["cost_usd"] == pytest.approx(expected, abs=1e-7) and luna["cost_usd"] > 0
    assert summary["records"] == 4 and summary["unknown_cost_records"] == 0
    rows = list(csv.DictReader(Path(summary["path"]).read_text().splitlines()))
    assert sorted(row["task_id"] for row in rows) == ["answer", "answer", "answer", "embed"]
    assert "Question" not in Path(summary["path"]).read_text()
    assert "Cost of this DAG run by model" in output and stack.api_key not in output


@pytest.mark.airflow
@pytest.mark.timeout(1200)  # airflow_home (up to 120 s) + run_dag (up to 600 s), with slack
def test_the_finops_example_dag(airflow_home: AirflowHome, stack: Stack) -> None:
    conn = connection_json(stack.base_url, stack.api_key, admin_api_key=admin_key(stack.api_key))
    tasks = airflow_home.run_dag(
        ROOT / "example_dags" / "finops_nightly.py",
        "openai_fusion_finops_nightly",
        {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": conn},
    )
    output = airflow_home.last.stdout + airflow_home.last.stderr
    assert {label: task.state for label, task in tasks.items()} == dict.fromkeys(
        ("org_costs", "digest", "run_costs"), "success"
    ), output[-3000:]
    assert tasks["org_costs"].xcom["rows"]["costs"] > 0 and tasks["org_costs"].xcom["path"].endswith(".csv")
    assert tasks["digest"].xcom["service_tier"] == "flex"
    (record,) = json.loads(Path(tasks["run_costs"].xcom["path"].removeprefix("file://")).read_text())
    assert record["task_id"] == "digest" and record["service_tier"] == "flex" and record["cost_usd"] > 0
    assert stack.api_key not in output and admin_key(stack.api_key) not in output

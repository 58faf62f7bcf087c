"""
Nightly FinOps: what the OpenAI organization spent yesterday, from OpenAI's own Costs and Usage APIs, by project,
line item and model, written as CSV for a warehouse or a spreadsheet; plus a small digest run under a run budget
and the cost of this very DAG run, from the usage records its tasks pushed.

- ``org_costs`` reads ``GET /organization/costs`` and ``GET /organization/usage/*`` for the run's data interval
  (yesterday, for a ``@daily`` schedule), every page, with the connection's ``admin_api_key`` (an organization
  admin key; no other task needs it).
- ``digest`` runs under ``max_run_cost_usd`` (set for every task through ``default_args``): it is refused before
  sending if the run's recorded costs plus its worst case would pass 0.05 USD, and its own ``max_cost_usd`` caps
  it alone. It asks for flex processing (half price) and falls back to the default tier if flex has no capacity.
- ``run_costs`` sums this run's ``openai_fusion_usage`` records by model and task and writes them as JSON.

The files go under ``$OPENAI_FUSION_OUTPUT_DIR`` (default ``file://`` in the system temp folder; ``s3://...`` works
the same).
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator, OpenAIUsageReportOperator

OUT = os.environ.get("OPENAI_FUSION_OUTPUT_DIR", f"file://{tempfile.gettempdir()}/openai-fusion")
if "://" not in OUT:
    OUT = f"file://{OUT}"

with DAG(
    dag_id="openai_fusion_finops_nightly",
    description="Yesterday's OpenAI costs by project, line item and model; this run's own cost",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30), "max_run_cost_usd": 0.05},
    tags=["openai-fusion", "finops"],
):
    org_costs = OpenAIUsageReportOperator(
        task_id="org_costs",
        source="organization",
        group_by=["project_id", "line_item", "model"],
        output_path=OUT + "/finops/org-costs-{{ ds }}.csv",
    )

    digest = OpenAIChatCompletionOperator(
        task_id="digest",
        model="gpt-5.6-luna",
        messages=[
            {"role": "developer", "content": "You write one-paragraph summaries for a finance team."},
            {"role": "user", "content": "Summarise in two sentences what OpenAI usage costs are made of."},
        ],
        service_tier="flex",
        flex_fallback=True,
        prompt_cache_key="finops-digest-v1",
        max_cost_usd=0.01,
        advanced={"max_completion_tokens": 300},
    )

    run_costs = OpenAIUsageReportOperator(
        task_id="run_costs",
        source="run",
        output_path=OUT + "/finops/run-costs-{{ run_id | replace(':', '_') }}.json",
        trigger_rule="all_done",
    )

    [org_costs, digest] >> run_costs

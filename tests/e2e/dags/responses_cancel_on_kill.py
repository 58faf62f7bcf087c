"""A background response that never finishes, waited for in the triggerer: the e2e test kills it."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIResponseOperator

with DAG(
    dag_id="openai_fusion_responses_cancel_on_kill",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    OpenAIResponseOperator(
        task_id="wait_forever",
        model="gpt-4o-mini",
        input="Please never finish.",
        background=True,
        deferrable=True,
        poll_interval=1,
    )

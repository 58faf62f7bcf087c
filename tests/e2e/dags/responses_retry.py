"""A background response waited for on the worker, with a retry: the e2e test kills the first try's process."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIResponseOperator

with DAG(
    dag_id="openai_fusion_responses_retry",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    OpenAIResponseOperator(
        task_id="slow_answer",
        model="gpt-4o-mini",
        input="Take your time with this one.",
        background=True,
        deferrable=False,
        poll_interval=1,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )

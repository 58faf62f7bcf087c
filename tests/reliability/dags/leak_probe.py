"""
A DAG of the secrets scan that fails on purpose: an API error from the server, a connection error, and a bad
argument, so that exception texts and tracebacks land in the task logs the scan searches.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator, OpenAICustomAPICallOperator

with DAG(
    dag_id="openai_fusion_leak_probe",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    OpenAICustomAPICallOperator(task_id="api_error", url="models/no-such-model-anywhere")
    OpenAICustomAPICallOperator(task_id="rendered_fields", url="{{ 'models' }}", headers={"X-Probe": "1"})
    OpenAIChatCompletionOperator(task_id="bad_argument", model="gpt-4o-mini", messages=[], temperature=7)
    OpenAICustomAPICallOperator(task_id="connection_error", url="models", conn_id="openai_fusion_unreachable")

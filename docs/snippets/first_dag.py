"""A first DAG: one model response a day."""

import pendulum
from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIResponseOperator

with DAG(dag_id="docs_first_dag", schedule="@daily", start_date=pendulum.datetime(2026, 12, 1), catchup=False):
    OpenAIResponseOperator(
        task_id="summarize",
        model="gpt-5.6-luna",
        instructions="Summarize in one sentence.",
        input="{{ dag_run.conf.get('text', 'Airflow schedules data pipelines.') }}",
        max_output_tokens=200,
    )

"""
A long-running Responses API request in background mode: the response is created with ``background: true``
and the task waits for it in the triggerer (deferrable), freeing its worker slot. Killing the task, or the
timeout, cancels the response; a retry re-attaches to a response an earlier try started instead of paying
for a second one. The next task continues the conversation from the first response's id.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import OpenAIResponseOperator

with DAG(
    dag_id="openai_fusion_responses_background",
    description="A background response waited for in the triggerer, then a follow-up",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai", "example", "responses"],
) as dag:
    research = OpenAIResponseOperator(
        task_id="research",
        model="gpt-5.6-terra",
        input="Write a short report on how Apache Airflow triggers free worker slots.",
        instructions="Be factual and concise.",
        background=True,
        deferrable=True,
        poll_interval=2,
        timeout=timedelta(minutes=30),
        metadata={"team": "data-platform"},
        retries=2,
        retry_delay=timedelta(seconds=5),
    )

    follow_up = OpenAIResponseOperator(
        task_id="follow_up",
        model="gpt-5.6-terra",
        input="Summarise your report in one sentence.",
        previous_response_id="{{ ti.xcom_pull(task_ids='research')['id'] }}",
    )

    @task
    def publish(report: dict, summary: dict) -> dict[str, str]:
        """Stands for posting the report somewhere."""
        return {"report": report["output_text"], "summary": summary["output_text"]}

    research >> follow_up
    publish(research.output, follow_up.output)

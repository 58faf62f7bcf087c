"""A mapped DAG for the run report: three mapped chat completions, one embeddings task, then the report."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import (
    OpenAIChatCompletionOperator,
    OpenAIEmbeddingsOperator,
    OpenAIUsageReportOperator,
)

with DAG(
    dag_id="openai_fusion_cost_mapped_run",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    answers = OpenAIChatCompletionOperator.partial(
        task_id="answer", model="gpt-5.6-luna", advanced={"max_completion_tokens": 50}
    ).expand(messages=[[{"role": "user", "content": f"Question {n}"}] for n in range(3)])
    vectors = OpenAIEmbeddingsOperator(task_id="embed", model="text-embedding-3-small", input=["a", "b", "c", "d"])
    report = OpenAIUsageReportOperator(
        task_id="report",
        source="run",
        output_path=os.environ["OPENAI_FUSION_OUTPUT_DIR"] + "/cost/run.csv",
        trigger_rule="all_done",
    )
    [answers, vectors] >> report

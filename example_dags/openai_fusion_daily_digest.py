"""
A daily pipeline: every day, write a digest of the day's notes with a chat model, embed the notes into a
JSON-lines file for a vector store, and record which models the key can use with a custom API call.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import (
    OpenAIChatCompletionOperator,
    OpenAICompletionOperator,
    OpenAICustomAPICallOperator,
    OpenAIEmbeddingsOperator,
)

OUTPUT_DIR = os.environ.get("OPENAI_FUSION_OUTPUT_DIR", os.path.join(tempfile.gettempdir(), "openai-fusion"))

with DAG(
    dag_id="openai_fusion_daily_digest",
    description="Daily digest and embeddings of the day's notes",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["openai", "example"],
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
) as dag:

    @task
    def collect_notes(ds: str | None = None) -> list[str]:
        """Stands for reading the day's notes from a ticketing system."""
        return [
            f"{ds}: the nightly export finished in 14 minutes.",
            f"{ds}: two customers asked about invoices in euros.",
            f"{ds}: the status page showed no incident.",
        ]

    notes = collect_notes()
    digest = OpenAIChatCompletionOperator(
        task_id="digest",
        model="gpt-5.6-luna",
        messages=[
            {"role": "developer", "content": "Summarise the notes in one sentence for the team channel."},
            {"role": "user", "content": "{{ ti.xcom_pull(task_ids='collect_notes') | join(' ') }}"},
        ],
        advanced={"max_completion_tokens": 120, "metadata": {"dag": "openai_fusion_daily_digest"}},
    )
    # Legacy /completions, for compatible servers (vLLM or llama.cpp serving the open-weight gpt-oss-20b): OpenAI
    # shut down its last completions model, gpt-3.5-turbo-instruct, on 2026-09-28.
    headline = OpenAICompletionOperator(
        task_id="headline",
        model="gpt-oss-20b",
        prompt="Write a headline for the operations report of {{ ds }}:",
        temperature=0.7,
        advanced={"max_tokens": 24},
    )
    embed = OpenAIEmbeddingsOperator(
        task_id="embed_notes",
        model="text-embedding-3-small",
        input=notes,
        limit=1_000,
        output_path=os.path.join(OUTPUT_DIR, "notes", "{{ ds }}.jsonl"),
    )
    available_models = OpenAICustomAPICallOperator(task_id="available_models", url="/models", method="GET")
    notes >> [digest, embed]

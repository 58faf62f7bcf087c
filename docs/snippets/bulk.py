"""Bulk mode: thousands of short prompts in one task, sent at the rate limit's speed, answers in input order."""

import tempfile
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator, OpenAIResponseOperator

TICKETS = [
    "I was charged twice for my subscription this month.",
    "The export button crashes the app on large files.",
    {"custom_id": "ticket-103", "messages": [{"role": "user", "content": "Could you add a dark mode?"}]},
]
OUT = Path(tempfile.gettempdir()) / "docs_bulk"

with DAG(dag_id="docs_bulk", schedule=None):
    # One chat completion per item: a text is the user message after `messages`, an object sets request fields.
    classify = OpenAIChatCompletionOperator(
        task_id="classify",
        model="gpt-5.6-luna",
        messages=[{"role": "developer", "content": "Classify the ticket: billing, bug or feature. One word."}],
        items=TICKETS,
        output_path=str(OUT / "{{ run_id | replace(':', '_') }}" / "classified.jsonl"),
        on_error="record",  # failed items become error lines; "fail" (the default) fails the task after writing
        max_concurrency=8,
        advanced={"max_completion_tokens": 5},
    )

    # The same with the Responses API: each item is the `input`.
    summarize = OpenAIResponseOperator(
        task_id="summarize",
        model="gpt-5.6-luna",
        instructions="Summarize in five words.",
        items=["Airflow schedules data pipelines.", "OpenAI serves models over HTTP."],
        output_path=str(OUT / "{{ run_id | replace(':', '_') }}" / "summaries.jsonl"),
        max_output_tokens=32,
    )

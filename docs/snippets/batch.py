"""Batch: many chat requests through the Batch API, the results one JSON line per request, in input order."""

import json
import tempfile
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import OpenAIBatchOperator

TICKETS = {"t-1": "I was charged twice.", "t-2": "The export button crashes.", "t-3": "Please add dark mode."}

with DAG(dag_id="docs_batch", schedule=None, default_args={"retries": 2}):

    @task
    def build_requests() -> list[dict]:
        return [
            {
                "custom_id": ticket,
                "body": {
                    "model": "gpt-5.6-luna",
                    "messages": [
                        {"role": "developer", "content": "Classify as billing, bug, feature request or other."},
                        {"role": "user", "content": text},
                    ],
                },
            }
            for ticket, text in TICKETS.items()
        ]

    classify = OpenAIBatchOperator(
        task_id="classify",
        endpoint="/v1/chat/completions",
        requests=build_requests(),
        output_path=str(Path(tempfile.gettempdir()) / "docs_batch" / "{{ run_id | replace(':', '_') }}.jsonl"),
        poll_interval=1,  # the default is 60 seconds; the stand-in's batches move on at every poll
        on_expired="partial",
    )

    @task
    def read_results(manifest: dict) -> dict[str, str]:
        outcome = {}
        with open(manifest["path"]) as lines:
            for line in lines:  # one line per request, in the order built above
                result = json.loads(line)
                outcome[result["custom_id"]] = "failed" if result.get("error") else "answered"
        return outcome

    read_results(classify.output)

"""
A nightly batch of chat classifications: an upstream task builds one request per support ticket, the Batch API
runs them at about half the price (waiting in the triggerer, no worker slot held), and a downstream task reads the
results, one line per ticket in the order they were built.

The results file is an ``ObjectStoragePath`` URI under ``$OPENAI_FUSION_OUTPUT_DIR`` (default ``file://`` in the
system temp folder; ``s3://...`` works the same), so the downstream task can run on any worker. A retry of
``classify`` re-attaches to the batch its first try submitted instead of paying twice.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_openai_fusion.operators import OpenAIBatchOperator

# The results go under an ObjectStoragePath root that every worker sees (s3://bucket/prefix, gs://..., or
# file:///shared/mount): set OPENAI_FUSION_OUTPUT_DIR to it.
OUT = ObjectStoragePath(os.environ.get("OPENAI_FUSION_OUTPUT_DIR", f"file://{tempfile.gettempdir()}/openai-fusion"))
OUT /= "batch_nightly_classification"
LABELS = ("billing", "bug", "feature request", "other")
INSTRUCTIONS = f'Classify the support ticket as one of: {", ".join(LABELS)}. Answer in JSON: {{"label": ...}}.'

with DAG(
    dag_id="openai_fusion_batch_nightly_classification",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=5)},
    tags=["openai-fusion", "batch"],
):

    @task
    def build_requests(ds: str | None = None) -> list[dict[str, Any]]:
        """One chat request per ticket of the day (a real pipeline would query its ticket store here)."""
        tickets = [
            (101, "I was charged twice for my subscription this month."),
            (102, "The export button crashes the app on large files."),
            (103, "Could you add a dark mode to the dashboard?"),
            (104, "How do I change the email address on my account?"),
            (105, "Refund please: the annual plan renewed without notice."),
        ]
        return [
            {
                "custom_id": f"ticket-{number}",
                "body": {
                    "model": "gpt-5.6-luna",
                    "messages": [{"role": "developer", "content": INSTRUCTIONS}, {"role": "user", "content": text}],
                    "response_format": {"type": "json_object"},
                    "max_completion_tokens": 50,
                    "metadata": {"day": str(ds)},
                },
            }
            for number, text in tickets
        ]

    classify = OpenAIBatchOperator(
        task_id="classify",
        endpoint="/v1/chat/completions",
        requests=build_requests(),
        output_path=f"{OUT.as_uri()}/{{{{ ds }}}}/classified.jsonl",
        metadata={"pipeline": "ticket-classification"},
        deferrable=True,
        poll_interval=2,
        timeout=3600,
    )

    @task
    def read_results(manifest: dict[str, Any]) -> dict[str, Any]:
        """Stream the results and count the answers; a failed request is reported, not dropped."""
        answers, failed = {}, []
        with ObjectStoragePath(manifest["path"]).open("r") as lines:
            for line in lines:
                result = json.loads(line)  # OpenAI's own result line: {"id", "custom_id", "response", "error"}
                response = result["response"]
                if result["error"] is None and 200 <= response["status_code"] < 300:
                    content = response["body"]["choices"][0]["message"]["content"]
                    answers[result["custom_id"]] = json.loads(content)
                else:
                    failed.append(result["custom_id"])
        return {"answers": answers, "failed": failed, "counts": manifest["counts"], "usage": manifest["usage"]}

    read_results(classify.output)

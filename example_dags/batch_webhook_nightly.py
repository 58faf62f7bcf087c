"""
React instead of poll: a nightly batch submitted without waiting, and its results fetched when OpenAI's
``batch.completed`` webhook arrives, with no task polling OpenAI in between.

- ``openai_fusion_webhook_batch_submit`` (nightly) builds one request per ticket and submits the batch
  (``wait_for_completion=False``: the task ends in seconds, no worker slot or triggerer poll held for hours).
- OpenAI posts ``batch.completed`` to ``/openai-fusion/webhooks/openai_fusion_default`` on Airflow's api-server
  (see docs/webhooks.md: the connection's ``webhook_secret`` verifies it); the provider records it as an asset event
  on ``openai_webhook_asset("batch.completed")``.
- ``openai_fusion_webhook_batch_results`` is scheduled on that asset: it reads the batch ids from the triggering
  events and joins each batch's results in input order from the batch id alone (``OpenAIBatchResultsOperator``);
  ``require_metadata`` skips batches this pipeline did not submit (the webhook fires for every batch of the
  OpenAI project).
- ``openai_fusion_webhook_batch_safety_net`` (daily) covers a webhook that never arrived (Airflow unreachable for
  more than OpenAI's 72 hours of retries, a misconfigured endpoint): one ``GET /batches`` listing finds this
  pipeline's batches that completed a day or more ago without an event, and records the event itself.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_openai_fusion import openai_webhook_asset
from airflow_provider_openai_fusion.operators import OpenAIBatchOperator, OpenAIBatchResultsOperator

OUT = ObjectStoragePath(os.environ.get("OPENAI_FUSION_OUTPUT_DIR", f"file://{tempfile.gettempdir()}/openai-fusion"))
OUT /= "batch_webhook_nightly"
SUBMIT_DAG = "openai_fusion_webhook_batch_submit"
COMPLETED = openai_webhook_asset("batch.completed")
LABELS = ("billing", "bug", "feature request", "other")
INSTRUCTIONS = f'Classify the support ticket as one of: {", ".join(LABELS)}. Answer in JSON: {{"label": ...}}.'
TICKETS = [
    (101, "I was charged twice for my subscription this month."),
    (102, "The export button crashes the app on large files."),
    (103, "Could you add a dark mode to the dashboard?"),
    (104, "How do I change the email address on my account?"),
    (105, "Refund please: the annual plan renewed without notice."),
]

with DAG(
    dag_id="openai_fusion_webhook_batch_submit",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["openai-fusion", "batch", "webhooks"],
):

    @task
    def build_requests() -> list[dict[str, Any]]:
        """One chat request per ticket of the day (a real pipeline would query its ticket store here)."""
        return [
            {
                "custom_id": f"ticket-{number}",
                "body": {
                    "model": "gpt-5.6-luna",
                    "messages": [{"role": "developer", "content": INSTRUCTIONS}, {"role": "user", "content": text}],
                    "response_format": {"type": "json_object"},
                    "max_completion_tokens": 50,
                },
            }
            for number, text in TICKETS
        ]

    OpenAIBatchOperator(
        task_id="submit",
        endpoint="/v1/chat/completions",
        requests=build_requests(),
        wait_for_completion=False,
        metadata={"pipeline": "ticket-classification"},
    )

with DAG(
    dag_id="openai_fusion_webhook_batch_results",
    schedule=[COMPLETED],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["openai-fusion", "batch", "webhooks"],
):

    @task
    def completed_batches(triggering_asset_events: Any = None) -> list[str]:
        """The batch ids of the events that started this run (several events can start one run)."""
        ids = [event.extra["object_id"] for events in triggering_asset_events.values() for event in events]
        return list(dict.fromkeys(ids))

    results = OpenAIBatchResultsOperator(
        task_id="results",
        batch_id=completed_batches(),
        output_path=f"{OUT.as_uri()}/{{{{ run_id | replace(':', '_') | replace('+', '_') }}}}/classified.jsonl",
        require_metadata={"airflow_dag_id": SUBMIT_DAG, "pipeline": "ticket-classification"},
    )

    @task
    def read_results(manifest: dict[str, Any]) -> dict[str, Any]:
        """Stream the results, one line per ticket in the order they were built; a failed request is reported."""
        labels, failed = {}, []
        with ObjectStoragePath(manifest["path"]).open("r") as lines:
            for line in lines:
                result = json.loads(line)
                response = result.get("response") or {}
                body = response.get("body", response)  # OpenAI's line shape, or the flat one
                status = response.get("status_code", result.get("status_code"))
                if isinstance(status, int) and 200 <= status < 300 and isinstance(body, dict):
                    labels[result["custom_id"]] = json.loads(body["choices"][0]["message"]["content"])
                else:
                    failed.append(result["custom_id"])
        return {"order": list(labels) + failed, "labels": labels, "failed": failed, "counts": manifest["counts"]}

    read_results(results.output)

with DAG(
    dag_id="openai_fusion_webhook_batch_safety_net",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["openai-fusion", "batch", "webhooks"],
):

    @task(inlets=[COMPLETED])
    def missed_webhooks(inlet_events: Any = None) -> list[dict[str, Any]]:
        """This pipeline's batches that completed between 4 days and 1 day ago and have no event (one listing)."""
        from airflow_provider_openai_fusion.api.batches import list_batches
        from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

        now = time.time()
        seen = {event.extra.get("object_id") for event in inlet_events[COMPLETED][-2000:]}
        return [
            {"object_id": batch["id"], "created_at": batch["completed_at"]}
            for batch in OpenAIFusionHook().paginate(list_batches(), limit=2000)
            if (batch.get("metadata") or {}).get("airflow_dag_id") == SUBMIT_DAG
            and batch.get("status") == "completed"
            and now - 4 * 86400 < (batch.get("completed_at") or now) < now - 86400
            and batch["id"] not in seen
        ]

    @task(outlets=[COMPLETED])
    def record_event(batch: dict[str, Any], outlet_events: Any = None) -> None:
        """One asset event per missed batch, shaped like a webhook's (a late webhook for it is then not recorded)."""
        outlet_events[COMPLETED].extra = {"event_id": f"poll_{batch['object_id']}", "type": "batch.completed", **batch}

    record_event.expand(batch=missed_webhooks())

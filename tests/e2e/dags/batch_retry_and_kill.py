"""
Two batches for the end-to-end test, each waiting in the triggerer: ``reattach`` fails its first try after the batch
completed (the stand-in answers its first output download with a 500, and the connection does not retry), so its
retry must find that batch again instead of submitting a second one; ``killed`` waits on a batch that never ends,
until the test marks the task failed, which must cancel the batch.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIBatchOperator

OUT = Path(os.environ.get("OPENAI_FUSION_OUTPUT_DIR", tempfile.gettempdir())) / "batch_e2e"
REQUESTS = [{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {n}"}]} for n in range(5)]

with DAG(
    dag_id="openai_fusion_batch_e2e",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
):
    OpenAIBatchOperator(
        task_id="reattach",
        endpoint="/v1/chat/completions",
        requests=REQUESTS,
        output_path=f"file://{OUT}/{{{{ run_id }}}}/reattach.jsonl",
        metadata={"standin": "flaky-download"},
        deferrable=True,
        poll_interval=1,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
    OpenAIBatchOperator(
        task_id="killed",
        endpoint="/v1/chat/completions",
        requests=REQUESTS,
        output_path=f"file://{OUT}/{{{{ run_id }}}}/killed.jsonl",
        metadata={"standin": "hold"},
        deferrable=True,
        poll_interval=1,
    )

"""Waiting: submit a batch and wait for it in another task, and a background response, both in the triggerer."""

from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIBatchOperator, OpenAIResponseOperator
from airflow_provider_openai_fusion.sensors import OpenAIBatchSensor

REQUESTS = [{"model": "gpt-5.6-luna", "messages": [{"role": "user", "content": "Say hello."}]}]

with DAG(dag_id="docs_waiting", schedule=None):
    submit = OpenAIBatchOperator(
        task_id="submit",
        endpoint="/v1/chat/completions",
        requests=REQUESTS,
        wait_for_completion=False,  # the XCom is {"batch_ids": [...]}
    )
    wait = OpenAIBatchSensor(
        task_id="wait",
        batch_id="{{ ti.xcom_pull(task_ids='submit')['batch_ids'][0] }}",
        deferrable=True,  # no worker slot is held while the batch runs
        poke_interval=1,
        timeout=24 * 3600,
    )
    submit >> wait

    OpenAIResponseOperator(
        task_id="long_answer",
        model="gpt-5.6-luna",
        input="Write a haiku about schedulers.",
        background=True,  # created with background: true, then polled
        deferrable=True,
        poll_interval=1,
        timeout=3600,  # then cancelled
    )

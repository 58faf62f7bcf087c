"""
Fine-tuning end to end: write and upload a training file, start a job, wait for it in the triggerer, ask the
new model a question, read the job's events, and delete the model.

The sensor defers (``deferrable=True``): while the job trains, no worker slot is held, and each new job event
(with its metrics) is written to the task's trigger log.
"""

from __future__ import annotations

import json
import os
import tempfile

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_openai_fusion.operators import (
    OpenAIChatCompletionOperator,
    OpenAIManageFilesOperator,
    OpenAIManageFineTunesOperator,
)
from airflow_provider_openai_fusion.sensors import OpenAIFineTuningJobSensor

# The training file goes under an ObjectStoragePath root that every worker sees (s3://bucket/prefix, gs://...,
# or file:///shared/mount): set OPENAI_FUSION_OUTPUT_DIR to it.
OUT = ObjectStoragePath(os.environ.get("OPENAI_FUSION_OUTPUT_DIR", f"file://{tempfile.gettempdir()}/openai-fusion"))
OUT /= "fine_tuning"
EXAMPLES = [
    ("What is Airflow?", "A platform to author, schedule and monitor workflows."),
    ("What is a DAG?", "A directed acyclic graph of tasks."),
    ("What is a task?", "One unit of work in a DAG."),
    ("What is an operator?", "A template for a task."),
    ("What is a sensor?", "An operator that waits for something to happen."),
    ("What is a trigger?", "Async code that waits in the triggerer instead of a worker."),
    ("What is XCom?", "Small values that tasks pass to each other."),
    ("What is a connection?", "Credentials and settings of an external system."),
    ("What is a pool?", "A cap on how many tasks run at once."),
    ("What is a deferrable task?", "A task that frees its worker slot while it waits."),
]
JOB = "{{ ti.xcom_pull(task_ids='create_job')['id'] }}"
MODEL = "{{ ti.xcom_pull(task_ids='wait_for_job')['fine_tuned_model'] }}"


@task
def write_training_file() -> str:
    """Write the chat examples as JSON lines, the format fine-tuning expects."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "airflow_faq.jsonl"
    system = {"role": "system", "content": "You answer questions about Apache Airflow in one sentence."}
    lines = [
        json.dumps({"messages": [system, {"role": "user", "content": q}, {"role": "assistant", "content": a}]})
        for q, a in EXAMPLES
    ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


with DAG(
    dag_id="openai_fusion_fine_tuning",
    description="Upload -> fine-tune -> wait (deferred) -> use the model -> delete it",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai", "example", "fine-tuning"],
) as dag:
    upload = OpenAIManageFilesOperator(
        task_id="upload_training_file", action="upload", file=write_training_file(), purpose="fine-tune"
    )
    create = OpenAIManageFineTunesOperator(
        task_id="create_job",
        action="create",
        model="gpt-oss-20b",  # new fine-tuning jobs end at OpenAI on 2027-01-06: run this on a compatible server
        training_file="{{ ti.xcom_pull(task_ids='upload_training_file')['id'] }}",
        suffix="airflow-faq",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
    )
    wait = OpenAIFineTuningJobSensor(
        task_id="wait_for_job", job_id=JOB, deferrable=True, poke_interval=5, timeout=6 * 3600
    )
    ask = OpenAIChatCompletionOperator(
        task_id="ask_the_model",
        model=MODEL,
        messages=[{"role": "user", "content": "What is a deferrable task?"}],
    )
    events = OpenAIManageFineTunesOperator(task_id="job_events", action="list_events", job_id=JOB, limit=50)
    delete = OpenAIManageFineTunesOperator(task_id="delete_model", action="delete_model", model=MODEL)
    upload >> create >> wait >> [ask, events] >> delete

"""Fine-tuning: upload a training file, start a job and wait for it in the triggerer, then delete the model."""

import json
import tempfile
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import (
    OpenAIManageFilesOperator,
    OpenAIManageFineTunesOperator,
)
from airflow_provider_openai_fusion.sensors import OpenAIFineTuningJobSensor

JOB = "{{ ti.xcom_pull(task_ids='create_job')['id'] }}"
MODEL = "{{ ti.xcom_pull(task_ids='wait_for_job')['fine_tuned_model'] }}"

with DAG(dag_id="docs_fine_tuning", schedule=None):

    @task
    def training_file() -> str:
        path = Path(tempfile.gettempdir()) / "docs_fine_tuning" / "faq.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            {"messages": [{"role": "user", "content": f"Say {n}."}, {"role": "assistant", "content": str(n)}]}
            for n in range(10)  # the least fine-tuning accepts
        ]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        return str(path)

    upload = OpenAIManageFilesOperator(task_id="upload", action="upload", file=training_file(), purpose="fine-tune")
    create = OpenAIManageFineTunesOperator(
        task_id="create_job",
        action="create",
        model="gpt-oss-20b",  # new fine-tuning jobs end at OpenAI on 2027-01-06: a compatible server
        suffix="faq",
        training_file="{{ ti.xcom_pull(task_ids='upload')['id'] }}",
    )
    wait = OpenAIFineTuningJobSensor(
        task_id="wait_for_job", job_id=JOB, deferrable=True, poke_interval=2, timeout=6 * 3600
    )
    events = OpenAIManageFineTunesOperator(task_id="events", action="list_events", job_id=JOB)
    delete = OpenAIManageFineTunesOperator(task_id="delete_model", action="delete_model", model=MODEL)
    upload >> create >> wait >> events >> delete

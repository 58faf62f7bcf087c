"""Files: upload, list, fetch the content back, delete (uploads above 512 MB go through the Uploads API)."""

import json
import tempfile
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import OpenAIManageFilesOperator

WORK = Path(tempfile.gettempdir()) / "docs_files"
FILE_ID = "{{ ti.xcom_pull(task_ids='upload')['id'] }}"

with DAG(dag_id="docs_files", schedule=None):

    @task
    def write_notes() -> str:
        WORK.mkdir(parents=True, exist_ok=True)
        path = WORK / "notes.jsonl"
        path.write_text(json.dumps({"note": "Airflow schedules data pipelines."}) + "\n")
        return str(path)

    upload = OpenAIManageFilesOperator(task_id="upload", action="upload", file=write_notes(), purpose="user_data")
    listed = OpenAIManageFilesOperator(task_id="list", action="list", purpose="user_data", limit=100)
    content = OpenAIManageFilesOperator(
        task_id="content", action="retrieve_content", file_id=FILE_ID, output_path=str(WORK / "copy.jsonl")
    )
    delete = OpenAIManageFilesOperator(task_id="delete", action="delete", file_id=FILE_ID)
    upload >> [listed, content] >> delete

"""Vector stores: keep a store in sync with a folder, search it, and answer over it with file_search."""

import tempfile
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import OpenAIManageVectorStoresOperator, OpenAIResponseOperator

FOLDER = Path(tempfile.gettempdir()) / "docs_handbook"
STORE = "{{ ti.xcom_pull(task_ids='sync_handbook')['vector_store_id'] }}"

with DAG(dag_id="docs_vector_stores", schedule=None):

    @task
    def documents() -> list[str]:
        FOLDER.mkdir(parents=True, exist_ok=True)
        (FOLDER / "holidays.md").write_text("Every employee has twenty five days of paid holidays a year.")
        (FOLDER / "expenses.md").write_text("Expenses are reimbursed within ten days of the receipt.")
        return sorted(str(path) for path in FOLDER.iterdir())

    # sync: new and changed files are uploaded and indexed, removed ones deleted, unchanged ones left alone.
    sync = OpenAIManageVectorStoresOperator(
        task_id="sync_handbook", action="sync", name="docs-handbook", files=documents(), poll_interval=1
    )
    search = OpenAIManageVectorStoresOperator(
        task_id="search", action="search", vector_store_id=STORE, query="holidays", max_num_results=3
    )
    answer = OpenAIResponseOperator(
        task_id="answer",
        model="gpt-5.6-luna",
        input="How many days of holidays do we have?",
        tools=[{"type": "file_search", "vector_store_ids": [STORE]}],
        returns="text",
    )
    sync >> [search, answer]

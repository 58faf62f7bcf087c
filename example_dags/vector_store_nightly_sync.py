"""
A nightly re-index: make a vector store hold exactly the documents of a folder (only new and changed documents
are uploaded and indexed, removed ones are deleted), check it with a search, then answer a question over it with
the Responses API's ``file_search`` tool.

The folder is ``$OPENAI_FUSION_DOCS_DIR``: a local folder, or an ``ObjectStoragePath`` URI such as
``s3://aws_default@bucket/docs`` (listed through Airflow's object storage, each file passed on as its URI); without
it, the DAG writes three sample documents to a local folder in its output folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import OpenAIManageVectorStoresOperator, OpenAIResponseOperator

OUTPUT_DIR = os.environ.get("OPENAI_FUSION_OUTPUT_DIR", os.path.join(tempfile.gettempdir(), "openai-fusion"))
DOCS_DIR = os.environ.get("OPENAI_FUSION_DOCS_DIR", os.path.join(OUTPUT_DIR, "handbook"))
SAMPLES = {
    "expenses.md": "Expenses are reimbursed within ten days when the receipt is uploaded to the portal.",
    "holidays.md": "Every employee has twenty five days of paid holidays a year, booked in the portal.",
    "security.md": "Laptops lock after five minutes; report a lost laptop to the security desk at once.",
}

with DAG(
    dag_id="openai_fusion_vector_store_nightly_sync",
    description="Nightly sync of a folder of documents into a vector store, then a file_search answer",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["openai", "example"],
) as dag:

    @task
    def list_documents() -> list[str]:
        """The documents to index: every file of the folder (the samples when a local folder does not exist yet)."""
        if "://" in DOCS_DIR:
            from airflow.sdk import ObjectStoragePath

            return sorted(str(path) for path in ObjectStoragePath(DOCS_DIR).iterdir() if path.is_file())
        folder = Path(DOCS_DIR)
        if not folder.exists():
            folder.mkdir(parents=True)
            for name, text in SAMPLES.items():
                (folder / name).write_text(text)
        return sorted(str(path) for path in folder.iterdir() if path.is_file())

    documents = list_documents()
    sync = OpenAIManageVectorStoresOperator(
        task_id="sync_handbook",
        action="sync",
        name="employee-handbook",
        files=documents,
        deferrable=True,
        poll_interval=2,
        retries=2,  # a retry sends only what is still missing: unchanged files are left alone
        retry_delay=pendulum.duration(minutes=5),
        advanced={
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 100},
            }
        },
    )
    check = OpenAIManageVectorStoresOperator(
        task_id="search_handbook",
        action="search",
        vector_store_id="{{ ti.xcom_pull(task_ids='sync_handbook')['vector_store_id'] }}",
        query="how many days of holidays",
        max_num_results=3,
    )
    answer = OpenAIResponseOperator(
        task_id="answer_with_file_search",
        model="gpt-5.6-terra",
        instructions="Answer from the handbook only, in one sentence.",
        input="How many days of paid holidays do employees have?",
        tools=[
            {
                "type": "file_search",
                "vector_store_ids": ["{{ ti.xcom_pull(task_ids='sync_handbook')['vector_store_id'] }}"],
                "max_num_results": 3,
            }
        ],
        max_output_tokens=200,
    )
    documents >> sync >> check >> answer

"""Embeddings at scale: any number of texts, split into requests within the API's caps, vectors to a file."""

import json
import tempfile
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import OpenAIEmbeddingsOperator

OUT = Path(tempfile.gettempdir()) / "docs_embeddings"

with DAG(dag_id="docs_embeddings", schedule=None):

    @task
    def load_texts() -> list[str]:
        return [f"Support article number {n} about exporting data." for n in range(5_000)]

    embed = OpenAIEmbeddingsOperator(
        task_id="embed",
        model="text-embedding-3-small",
        input=load_texts(),
        dimensions=256,
        limit=50_000,  # cost guard: more inputs than this fail the task before any request
        max_concurrency=4,  # requests in flight, paced by the rate-limit headers
        output_path=str(OUT / "{{ ds }}.jsonl"),  # the XCom stays small: {"path", "count", "dimensions", "usage"}
    )

    @task
    def check(manifest: dict) -> int:
        with open(manifest["path"]) as lines:
            first = json.loads(next(lines))
        assert first["index"] == 0 and len(first["embedding"]) == manifest["dimensions"]
        return manifest["count"]

    check(embed.output)

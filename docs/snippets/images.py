"""Images: draw one, then edit it; the files go to a folder, the XCom holds their paths."""

import tempfile
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIEditImageOperator, OpenAIGenerateImageOperator

OUT = Path(tempfile.gettempdir()) / "docs_images"

with DAG(dag_id="docs_images", schedule=None):
    draw = OpenAIGenerateImageOperator(
        task_id="draw",
        prompt="A watercolour of a paper airplane over a data center",
        model="gpt-image-2",
        size="1024x1024",
        output_path=str(OUT / "drawn"),  # a folder: 0.png, 1.png, ...
    )
    edit = OpenAIEditImageOperator(
        task_id="edit",
        operation="edit",
        image="{{ ti.xcom_pull(task_ids='draw')['paths'][0] }}",
        prompt="Make it night time",
        model="gpt-image-2",
        output_path=str(OUT / "edited"),
    )
    draw >> edit

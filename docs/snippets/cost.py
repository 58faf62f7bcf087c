"""Cost guards that stop a task before it spends: an input-token cap, an input-count cap, and Batch's half price."""

from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIEmbeddingsOperator, OpenAIResponseOperator

with DAG(dag_id="docs_cost", schedule=None):
    OpenAIResponseOperator(
        task_id="summarize",
        model="gpt-5.6-luna",
        input="{{ dag_run.conf.get('text', 'A short text to summarize.') }}",
        max_input_tokens=20_000,  # counted first (POST /responses/input_tokens); over it, nothing is generated
        max_output_tokens=300,
    )
    OpenAIEmbeddingsOperator(
        task_id="embed",
        model="text-embedding-3-small",
        input=["one text", "another text"],
        limit=10_000,  # more inputs than this fail the task before any request
    )

"""Share the API's rate limit between DAGs with one Airflow pool (create it first: airflow pools set ...)."""

from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator, OpenAIEmbeddingsOperator

conversations = [[{"role": "user", "content": f"Give me fact number {n} about Airflow."}] for n in range(20)]
texts = [f"Document {n}" for n in range(1_000)]

with DAG(dag_id="docs_pools", schedule=None):
    OpenAIChatCompletionOperator.partial(task_id="answer", model="gpt-5.6-luna", pool="openai_fusion").expand(
        messages=conversations
    )
    OpenAIEmbeddingsOperator(
        task_id="embed",
        model="text-embedding-3-small",
        input=texts,
        max_concurrency=4,
        pool="openai_fusion",
        pool_slots=4,
    )

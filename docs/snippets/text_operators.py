"""The text and data operators side by side: chat, completion, edit, moderation, embeddings, a custom call."""

from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import (
    OpenAIChatCompletionOperator,
    OpenAICompletionOperator,
    OpenAICustomAPICallOperator,
    OpenAIEditOperator,
    OpenAIEmbeddingsOperator,
    OpenAIModerationOperator,
)

with DAG(dag_id="docs_text_operators", schedule=None, params={"q": "What is a DAG?"}):
    chat = OpenAIChatCompletionOperator(
        task_id="chat",
        model="gpt-5.6-luna",
        temperature=0.2,
        messages=[{"role": "developer", "content": "Answer briefly."}, {"role": "user", "content": "{{ params.q }}"}],
        advanced={"max_completion_tokens": 200, "response_format": {"type": "json_object"}},
    )
    # Legacy /completions, for compatible servers that still serve it (vLLM serving gpt-oss-20b).
    completion = OpenAICompletionOperator(task_id="completion", model="gpt-oss-20b", prompt="Say hi", temperature=0)
    edit = OpenAIEditOperator(task_id="edit", model="gpt-5.6-luna", instruction="Fix the spelling.", input="teh cat")
    moderate = OpenAIModerationOperator.partial(task_id="moderate").expand(input=["text one", "text two"])
    embed = OpenAIEmbeddingsOperator(
        task_id="embed",
        model="text-embedding-3-small",
        input=["Airflow schedules pipelines.", "OpenAI serves models."],
        dimensions=256,
        limit=50_000,
        output_path="/tmp/docs_text_operators/{{ ds }}.jsonl",
    )
    call = OpenAICustomAPICallOperator(task_id="call", url="/files", method="GET", query={"purpose": "batch"})

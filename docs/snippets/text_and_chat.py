"""Text and chat: a chat completion, an edit, and a moderation mapped over the answers."""

from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import (
    OpenAIChatCompletionOperator,
    OpenAIEditOperator,
    OpenAIModerationOperator,
)

QUESTIONS = ["What does Apache Airflow schedule?", "What is a DAG?"]

with DAG(dag_id="docs_text_and_chat", schedule=None):
    # One chat completion per question: .partial() holds what they share, .expand() maps over the rest.
    answers = OpenAIChatCompletionOperator.partial(
        task_id="answer",
        model="gpt-5.6-luna",
        temperature=0.2,
        advanced={"max_completion_tokens": 100},
    ).expand(messages=[[{"role": "user", "content": question}] for question in QUESTIONS])

    tidy = OpenAIEditOperator(
        task_id="tidy",
        model="gpt-5.6-luna",
        instruction="Fix the spelling mistakes.",
        input="Airflow schedlues data pipelnes.",
    )

    @task
    def texts(responses: list[dict]) -> list[str]:
        return [response["choices"][0]["message"]["content"] for response in responses]

    moderate = OpenAIModerationOperator.partial(task_id="moderate").expand(input=texts(answers.output))

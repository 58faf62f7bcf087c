"""
Fan out over many inputs with dynamic task mapping: one mapped task instance per review for moderation,
chat and edit, then one embeddings task for all of them (split into requests and merged back in order).
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import (
    OpenAIChatCompletionOperator,
    OpenAIEditOperator,
    OpenAIEmbeddingsOperator,
    OpenAIModerationOperator,
)

OUTPUT_DIR = os.environ.get("OPENAI_FUSION_OUTPUT_DIR", os.path.join(tempfile.gettempdir(), "openai-fusion"))

with DAG(
    dag_id="openai_fusion_text_fan_out",
    description="Moderate, answer, tidy and embed a batch of customer reviews, one mapped task per review",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai", "example"],
) as dag:

    @task
    def fetch_reviews() -> list[str]:
        """Stands for a query against the shop's database."""
        return [
            "The delivery was fast and the blender works great. Would buy again.",
            "teh lid cracked after two days , very dissapointed",
            "Customer service answered in five minutes and sent a new charger.",
        ]

    @task
    def to_messages(reviews: list[str]) -> list[list[dict[str, str]]]:
        """One conversation per review."""
        system = {"role": "system", "content": "Summarise the customer review in one sentence."}
        return [[system, {"role": "user", "content": review}] for review in reviews]

    reviews = fetch_reviews()
    moderate = OpenAIModerationOperator.partial(task_id="moderate").expand(input=reviews)
    summarize = OpenAIChatCompletionOperator.partial(
        task_id="summarize", model="gpt-5.6-luna", temperature=0.2, advanced={"max_completion_tokens": 60}
    ).expand(messages=to_messages(reviews))
    tidy = OpenAIEditOperator.partial(
        task_id="tidy", model="gpt-5.6-luna", instruction="Fix the spelling and spacing; change nothing else."
    ).expand(input=reviews)
    embed = OpenAIEmbeddingsOperator(
        task_id="embed",
        model="text-embedding-3-small",
        input=reviews,
        dimensions=256,
        limit=10_000,
        output_path=os.path.join(OUTPUT_DIR, "reviews", "{{ run_id | replace(':', '_') }}.jsonl"),
    )
    reviews >> [moderate, tidy, embed]

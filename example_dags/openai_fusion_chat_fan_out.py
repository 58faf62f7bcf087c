"""
Fan out: one chat completion per question with dynamic task mapping (``partial(...).expand(...)``), then one
task that gathers the answers.

The chat tasks run in the Airflow pool ``openai_fusion`` (create it first, e.g.
``airflow pools set openai_fusion 8 "OpenAI calls"``): however many workers there are, at most that many
requests are in flight at once. How many questions: the ``count`` param (default 20; the distributed test runs
200).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator

TOPICS = ["a DAG", "a task", "an operator", "a sensor", "a trigger", "an XCom", "a pool", "a connection"]

with DAG(
    dag_id="openai_fusion_chat_fan_out",
    description="One mapped chat completion per question, capped by a pool, then one task that gathers them",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai", "example"],
    params={"count": Param(20, type="integer", minimum=1, maximum=1024)},
) as dag:

    @task
    def questions(params: dict[str, Any] | None = None) -> list[list[dict[str, str]]]:
        """One conversation per question."""
        count = (params or {})["count"]
        return [
            [{"role": "user", "content": f"Question {n}: what is {TOPICS[n % len(TOPICS)]} in Airflow?"}]
            for n in range(count)
        ]

    answers = OpenAIChatCompletionOperator.partial(
        task_id="answer", model="gpt-5.6-luna", pool="openai_fusion", advanced={"max_completion_tokens": 60}
    ).expand(messages=questions())

    @task
    def gather(responses: list[dict[str, Any]]) -> dict[str, int]:
        """
        How many answers came back, and the tokens they cost.

        :param responses: the chat completions, in map-index order.
        """
        responses = list(responses)
        return {
            "answers": len(responses),
            "total_tokens": sum(response["usage"]["total_tokens"] for response in responses),
        }

    gather(answers.output)

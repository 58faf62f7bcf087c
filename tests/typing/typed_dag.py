"""
A DAG file as a user writes it, type-checked by ``mypy --strict`` against the provider (``pyproject.toml``:
``[tool.mypy] files``): the operators' arguments, their ``.output`` and the hook's verbs must be typed well enough
for it. ``tests/typing/test_typed_dag.py`` also parses it with Airflow and runs mypy on a wrong variant.
"""

from __future__ import annotations

from typing import Any, cast

import pendulum
from airflow.sdk import DAG, task
from pydantic import BaseModel

from airflow_provider_openai_fusion.api import models
from airflow_provider_openai_fusion.hooks import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import (
    OpenAIBatchOperator,
    OpenAIChatCompletionOperator,
    OpenAIEmbeddingsOperator,
    OpenAIResponseOperator,
)
from airflow_provider_openai_fusion.sensors import OpenAIBatchSensor


class Ticket(BaseModel):
    category: str
    urgent: bool


with DAG(dag_id="typed_dag", schedule=None, start_date=pendulum.datetime(2026, 12, 1), catchup=False):
    chat = OpenAIChatCompletionOperator(
        task_id="chat", model="gpt-5.6-luna", messages=[{"role": "user", "content": "Hi"}], temperature=0.2
    )
    classify = OpenAIResponseOperator.partial(
        task_id="classify", model="gpt-5.6-luna", text_format=Ticket, returns="parsed", max_output_tokens=200
    ).expand(input=["The export crashes.", "Please add dark mode."])
    embed = OpenAIEmbeddingsOperator(
        task_id="embed", model="text-embedding-3-small", input=["a", "b"], dimensions=64, limit=100
    )
    submit = OpenAIBatchOperator(
        task_id="submit",
        endpoint="/v1/chat/completions",
        requests=[{"model": "gpt-5.6-luna", "messages": [{"role": "user", "content": "Hi"}]}],
        wait_for_completion=False,
    )
    wait = OpenAIBatchSensor(task_id="wait", batch_id="{{ ti.xcom_pull(task_ids='submit')['batch_ids'][0] }}")

    @task
    def count_models() -> int:
        listed: list[dict[str, Any]] = OpenAIFusionHook().paginate(models.list_models())
        return len(listed)

    @task
    def urgent(answers: list[dict[str, Any]]) -> int:
        return sum(1 for answer in answers if answer["output_parsed"]["urgent"])

    chat >> embed >> submit >> wait >> count_models()
    # A TaskFlow function typed for the values gets the XComArg that stands for them: say so with a cast.
    urgent(cast("list[dict[str, Any]]", classify.output))

"""
Three chat completions under one ``max_run_cost_usd`` (from ``default_args``): ``first`` and ``second`` run at the
same time, ``third`` after both; the budget (``$OPENAI_FUSION_RUN_BUDGET``) leaves room for the first two only.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator

MESSAGES = [{"role": "user", "content": "Name one colour of the rainbow."}]
CAP = {"max_completion_tokens": 40}

with DAG(
    dag_id="openai_fusion_run_budget",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"max_run_cost_usd": float(os.environ.get("OPENAI_FUSION_RUN_BUDGET", "1"))},
):
    first, second, third = (
        OpenAIChatCompletionOperator(task_id=name, model="gpt-5.6-luna", messages=MESSAGES, advanced=CAP)
        for name in ("first", "second", "third")
    )
    [first, second] >> third

"""
A tour of every Fusion module, end to end: the main job of the README runs it against the local stand-in.

With ``OPENAI_FUSION_TOUR_LIVE=1`` (set by the main job's ``--live`` mode) only the cheap, non-destructive
tasks are built, so the tour can run against api.openai.com without fine-tuning, deleting or drawing.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIGetModelsOperator

LIVE = os.environ.get("OPENAI_FUSION_TOUR_LIVE") == "1"

with DAG(
    dag_id="openai_fusion_tour",
    description="Every module of Fusion's OpenAI connector as an Airflow task",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai", "example"],
    params={"chat_model": "gpt-4o-mini"},
) as dag:
    list_models = OpenAIGetModelsOperator(task_id="list_models", action="list", limit=50)
    retrieve_model = OpenAIGetModelsOperator(
        task_id="retrieve_model", action="retrieve", model="{{ params.chat_model }}"
    )
    list_models >> retrieve_model

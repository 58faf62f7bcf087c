"""Runs on the connection that the browser test created through Airflow's connection form."""

from __future__ import annotations

import dataclasses
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import OpenAIGetModelsOperator

CONN_ID = "openai_fusion_ui"


@task
def connection_settings() -> dict[str, Any]:
    """What the hook reads from the stored connection, without the API key."""
    settings = OpenAIFusionHook(CONN_ID).settings
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name != "api_key"}


with DAG(
    dag_id="openai_fusion_ui_connection",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    connection_settings()
    OpenAIGetModelsOperator(task_id="list_models", conn_id=CONN_ID)

"""A DAG scheduled on the response.completed webhook asset, kept paused: it makes the asset exist for the e2e test."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_openai_fusion import openai_webhook_asset

with DAG(
    dag_id="openai_fusion_webhook_response_listener",
    schedule=[openai_webhook_asset("response.completed")],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
):

    @task
    def noted(triggering_asset_events: object = None) -> None:
        """Nothing to do: the test only counts the events."""

    noted()

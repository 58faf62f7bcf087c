"""
The Airflow plugin that mounts the webhook receiver on the api-server at ``/openai-fusion``.

Registered through the ``airflow.plugins`` entry point (Airflow 3.3 loads a provider's plugin from it, not from the
provider info's ``plugins`` list alone, which names it too). Every Airflow process loads plugins (task processes
too, for macros), so this module stays cheap: FastAPI and the receiver are imported when the api-server asks for
the app.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/openai-fusion"


class _WebhookApps:
    """The plugin's ``fastapi_apps``: the receiver's app, built on first read, from the class or an instance (Airflow
    keeps an entry-point plugin as an instance and a provider-info plugin as the class)."""

    def __init__(self) -> None:
        self.apps: list[dict[str, Any]] | None = None

    def __get__(self, instance: object, owner: type) -> list[dict[str, Any]]:
        if self.apps is None:
            from airflow_provider_openai_fusion.webhooks.receiver import Receiver, create_app
            from airflow_provider_openai_fusion.webhooks.recorder import record, webhook_keys

            app = create_app(Receiver(keys=webhook_keys, record=record))
            self.apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "OpenAI Fusion webhooks"}]
        return self.apps


class OpenAIFusionWebhooksPlugin(AirflowPlugin):
    """Receives OpenAI webhooks at ``POST /openai-fusion/webhooks/{conn_id}`` and records them as asset events."""

    name = "openai_fusion_webhooks"
    fastapi_apps = _WebhookApps()

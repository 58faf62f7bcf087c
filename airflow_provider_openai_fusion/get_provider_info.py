"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_openai_fusion import __version__
from airflow_provider_openai_fusion.areas import description, modules

_INTEGRATION = "OpenAI Fusion"
_PACKAGE = "airflow_provider_openai_fusion"


def _layer(layer: str) -> list[dict[str, Any]]:
    return [{"integration-name": _INTEGRATION, "python-modules": [f"{_PACKAGE}.{layer}.{m}" for m in modules(layer)]}]


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata: connection type and form, hooks, operators, sensors, triggers, the webhook
    plugin and its asset URI scheme, and the ``[openai_fusion]`` config section."""
    return {
        "package-name": "airflow-provider-openai-fusion",
        "name": "OpenAI Fusion",
        "description": description(),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://platform.openai.com/docs/api-reference",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": [f"{_PACKAGE}.hooks.openai_fusion"]}],
        "operators": _layer("operators"),
        "sensors": _layer("sensors"),
        "triggers": _layer("triggers"),
        "extra-links": [f"{_PACKAGE}.links.FineTuningJobLink"],
        "config": {
            "openai_fusion": {
                "description": "Settings of the OpenAI Fusion provider.",
                "options": {
                    "live_model_dates": {
                        "description": "Read the shutdown_date of GET /models from each task's connection (once per "
                        "worker process, connection and day, bounded to 3 seconds) and let it win over the "
                        "provider's retirement table. False: the table alone decides.",
                        "version_added": "0.2.0",
                        "type": "boolean",
                        "example": "False",
                        "default": "True",
                    }
                },
            }
        },
        "asset-uris": [{"schemes": ["openai-fusion"], "handler": f"{_PACKAGE}.webhooks.assets.normalize_uri"}],
        "plugins": [
            {"name": "openai_fusion_webhooks", "plugin-class": f"{_PACKAGE}.webhooks.plugin.OpenAIFusionWebhooksPlugin"}
        ],
        "connection-types": [
            {
                "connection-type": "openai_fusion",
                "hook-class-name": f"{_PACKAGE}.hooks.openai_fusion.OpenAIFusionHook",
                "hook-name": "OpenAI Fusion",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"password": "API Key", "host": "Base URL"},
                    "placeholders": {"host": "https://api.openai.com/v1", "password": "sk-..."},
                },
                "conn-fields": {
                    "organization_id": {
                        "label": "Organization ID",
                        "description": "Optional. Sent as the OpenAI-Organization header, e.g. org-...",
                        "schema": {"type": ["string", "null"]},
                    },
                    "project_id": {
                        "label": "Project ID",
                        "description": "Optional. Sent as the OpenAI-Project header, e.g. proj_...",
                        "schema": {"type": ["string", "null"]},
                    },
                    "timeout": {
                        "label": "Timeout (seconds)",
                        "description": "Seconds one attempt may take in all: connect, send and the whole answer. "
                        "Empty: 600.",
                        "schema": {"type": ["number", "null"]},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retries of 408, 409, 429, 5xx answers, timeouts and connection errors, "
                        "with backoff. Empty: 2.",
                        "schema": {"type": ["integer", "null"]},
                    },
                    "allow_insecure_http": {
                        "label": "Allow insecure HTTP",
                        "description": "Allow an http:// Base URL on a host other than this machine (the key then "
                        "travels unencrypted). Never allowed for api.openai.com. Empty: false.",
                        "schema": {"type": ["boolean", "null"]},
                    },
                    "prices": {
                        "label": "Prices (JSON)",
                        "description": "Optional. Your prices, winning over the built-in table: JSON of model -> "
                        '{"input", "cached_input", "output", ...} in USD per 1M tokens, e.g. {"gpt-6-luna": '
                        '{"input": 0.08, "output": 0.4}}; "*" prices every other model ({"*": {"input": 0, '
                        '"output": 0}} for a free local server).',
                        "schema": {"type": ["string", "null"]},
                    },
                    "admin_api_key": {
                        "label": "Admin API Key",
                        "description": "Optional. An organization admin key (sk-admin-...), used only by "
                        "OpenAIUsageReportOperator(source='organization') for the Usage and Costs APIs.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "webhook_secret": {
                        "label": "Webhook secret",
                        "description": "Optional. The signing secret (whsec_...) of the OpenAI webhook endpoint "
                        "https://<airflow>/openai-fusion/webhooks/<this connection id>; webhooks become asset events. "
                        "During a rotation, give the new and the old secret separated by a space.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                },
            }
        ],
    }

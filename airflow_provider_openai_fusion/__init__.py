"""Apache Airflow provider for the OpenAI API, with the modules of Workfront Fusion's OpenAI connector."""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"
__all__ = ["__version__", "openai_webhook_asset"]


def __getattr__(name: str) -> Any:
    # openai_webhook_asset is imported from its module on first use, so importing the package stays cheap.
    if name == "openai_webhook_asset":
        from airflow_provider_openai_fusion.webhooks.assets import openai_webhook_asset

        return openai_webhook_asset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

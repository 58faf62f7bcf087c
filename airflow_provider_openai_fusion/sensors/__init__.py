"""The provider's sensors, imported lazily."""

from __future__ import annotations

from airflow_provider_openai_fusion._lazy import lazy_getattr

_MODULES = {
    "OpenAIFineTuningJobSensor": "fine_tuning",
}

__all__ = sorted(_MODULES)

__getattr__ = lazy_getattr(__name__, _MODULES)

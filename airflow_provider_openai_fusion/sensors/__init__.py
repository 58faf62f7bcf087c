"""The provider's sensors, imported lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_openai_fusion._lazy import lazy_getattr
from airflow_provider_openai_fusion.areas import classes

if TYPE_CHECKING:  # the classes as type checkers see them; at run time __getattr__ imports them lazily
    from airflow_provider_openai_fusion.sensors.batches import OpenAIBatchSensor as OpenAIBatchSensor
    from airflow_provider_openai_fusion.sensors.fine_tuning import (
        OpenAIFineTuningJobSensor as OpenAIFineTuningJobSensor,
    )

_MODULES = classes("sensors")

__all__ = sorted(_MODULES)

__getattr__ = lazy_getattr(__name__, _MODULES)

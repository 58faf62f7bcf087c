"""The provider's triggers, imported lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_openai_fusion._lazy import lazy_getattr
from airflow_provider_openai_fusion.areas import classes

if TYPE_CHECKING:  # the classes as type checkers see them; at run time __getattr__ imports them lazily
    from airflow_provider_openai_fusion.triggers.batches import OpenAIBatchTrigger as OpenAIBatchTrigger
    from airflow_provider_openai_fusion.triggers.fine_tuning import (
        OpenAIFineTuningJobTrigger as OpenAIFineTuningJobTrigger,
    )
    from airflow_provider_openai_fusion.triggers.responses import OpenAIResponseTrigger as OpenAIResponseTrigger
    from airflow_provider_openai_fusion.triggers.vector_stores import (
        OpenAIVectorStoreFileBatchTrigger as OpenAIVectorStoreFileBatchTrigger,
    )

_MODULES = classes("triggers")

__all__ = sorted(_MODULES)

__getattr__ = lazy_getattr(__name__, _MODULES)

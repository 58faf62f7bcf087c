"""The provider's triggers, imported lazily."""

from __future__ import annotations

from airflow_provider_openai_fusion._lazy import lazy_getattr
from airflow_provider_openai_fusion.areas import classes

_MODULES = classes("triggers")

__all__ = sorted(_MODULES)

__getattr__ = lazy_getattr(__name__, _MODULES)

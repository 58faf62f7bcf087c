"""The provider's triggers, imported lazily."""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "OpenAIFineTuningJobTrigger": "fine_tuning",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)

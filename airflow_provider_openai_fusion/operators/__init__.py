"""
The provider's operators, one per Fusion module, imported lazily: importing one does not import the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "OpenAIGetModelsOperator": "models",
    "OpenAICompletionOperator": "text",
    "OpenAIChatCompletionOperator": "text",
    "OpenAIEditOperator": "text",
    "OpenAIModerationOperator": "text",
    "OpenAIEmbeddingsOperator": "embeddings",
    "OpenAICustomAPICallOperator": "custom",
    "OpenAIGenerateImageOperator": "images",
    "OpenAIEditImageOperator": "images",
    "OpenAIManageAudioOperator": "audio",
    "OpenAIManageFilesOperator": "files",
    "OpenAIManageFineTunesOperator": "fine_tuning",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)

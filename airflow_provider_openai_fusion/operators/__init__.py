"""
The provider's operators, one per Fusion module, imported lazily: importing one does not import the others.
"""

from __future__ import annotations

from airflow_provider_openai_fusion._lazy import lazy_getattr

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

__getattr__ = lazy_getattr(__name__, _MODULES)

"""The provider's operators, one per Fusion module, imported lazily: importing one does not import the others."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_openai_fusion._lazy import lazy_getattr
from airflow_provider_openai_fusion.areas import classes

if TYPE_CHECKING:  # the classes as type checkers see them; at run time __getattr__ imports them lazily
    from airflow_provider_openai_fusion.operators.audio import OpenAIManageAudioOperator as OpenAIManageAudioOperator
    from airflow_provider_openai_fusion.operators.batch_results import (
        OpenAIBatchResultsOperator as OpenAIBatchResultsOperator,
    )
    from airflow_provider_openai_fusion.operators.batches import OpenAIBatchOperator as OpenAIBatchOperator
    from airflow_provider_openai_fusion.operators.chat import (
        OpenAIChatCompletionOperator as OpenAIChatCompletionOperator,
    )
    from airflow_provider_openai_fusion.operators.chat import OpenAIEditOperator as OpenAIEditOperator
    from airflow_provider_openai_fusion.operators.completions import (
        OpenAICompletionOperator as OpenAICompletionOperator,
    )
    from airflow_provider_openai_fusion.operators.custom import (
        OpenAICustomAPICallOperator as OpenAICustomAPICallOperator,
    )
    from airflow_provider_openai_fusion.operators.embeddings import OpenAIEmbeddingsOperator as OpenAIEmbeddingsOperator
    from airflow_provider_openai_fusion.operators.files import OpenAIManageFilesOperator as OpenAIManageFilesOperator
    from airflow_provider_openai_fusion.operators.fine_tuning import (
        OpenAIManageFineTunesOperator as OpenAIManageFineTunesOperator,
    )
    from airflow_provider_openai_fusion.operators.images import OpenAIEditImageOperator as OpenAIEditImageOperator
    from airflow_provider_openai_fusion.operators.images import (
        OpenAIGenerateImageOperator as OpenAIGenerateImageOperator,
    )
    from airflow_provider_openai_fusion.operators.models import OpenAIGetModelsOperator as OpenAIGetModelsOperator
    from airflow_provider_openai_fusion.operators.moderations import (
        OpenAIModerationOperator as OpenAIModerationOperator,
    )
    from airflow_provider_openai_fusion.operators.response_results import (
        OpenAIResponseResultOperator as OpenAIResponseResultOperator,
    )
    from airflow_provider_openai_fusion.operators.responses import OpenAIResponseOperator as OpenAIResponseOperator
    from airflow_provider_openai_fusion.operators.usage import OpenAIUsageReportOperator as OpenAIUsageReportOperator
    from airflow_provider_openai_fusion.operators.vector_stores import (
        OpenAIManageVectorStoresOperator as OpenAIManageVectorStoresOperator,
    )

_MODULES = classes("operators")

__all__ = sorted(_MODULES)

__getattr__ = lazy_getattr(__name__, _MODULES)

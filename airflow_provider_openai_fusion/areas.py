"""
The AREAS table: one row per API area, naming its operators, sensors and triggers.

It feeds ``get_provider_info()``, the lazy exports of ``operators``, ``sensors`` and ``triggers`` and the import
test, so adding an area is ``api/<area>.py``, ``operators/<area>.py`` (plus ``sensors``/``triggers`` if it waits),
its tests, and one row here.
"""

from __future__ import annotations

from typing import NamedTuple


class Area(NamedTuple):
    """
    One API area: its module name (the same in ``api/``, ``operators/``, ``sensors/``, ``triggers/``) and classes.

    :param name: the module name, e.g. ``fine_tuning``.
    :param operators: the operator classes of ``operators/<name>.py``.
    :param sensors: the sensor classes of ``sensors/<name>.py``.
    :param triggers: the trigger classes of ``triggers/<name>.py``.
    """

    name: str
    operators: tuple[str, ...] = ()
    sensors: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()


AREAS: tuple[Area, ...] = (
    Area("models", operators=("OpenAIGetModelsOperator",)),
    Area("completions", operators=("OpenAICompletionOperator",)),
    Area("chat", operators=("OpenAIChatCompletionOperator", "OpenAIEditOperator")),
    Area("moderations", operators=("OpenAIModerationOperator",)),
    Area("embeddings", operators=("OpenAIEmbeddingsOperator",)),
    Area("custom", operators=("OpenAICustomAPICallOperator",)),
    Area("images", operators=("OpenAIGenerateImageOperator", "OpenAIEditImageOperator")),
    Area("audio", operators=("OpenAIManageAudioOperator",)),
    Area("files", operators=("OpenAIManageFilesOperator",)),
    Area(
        "fine_tuning",
        operators=("OpenAIManageFineTunesOperator",),
        sensors=("OpenAIFineTuningJobSensor",),
        triggers=("OpenAIFineTuningJobTrigger",),
    ),
    Area("responses", operators=("OpenAIResponseOperator",), triggers=("OpenAIResponseTrigger",)),
    Area(
        "batches",
        operators=("OpenAIBatchOperator",),
        sensors=("OpenAIBatchSensor",),
        triggers=("OpenAIBatchTrigger",),
    ),
    Area("batch_results", operators=("OpenAIBatchResultsOperator",)),
    Area("response_results", operators=("OpenAIResponseResultOperator",)),
    Area(
        "vector_stores",
        operators=("OpenAIManageVectorStoresOperator",),
        triggers=("OpenAIVectorStoreFileBatchTrigger",),
    ),
    Area("usage", operators=("OpenAIUsageReportOperator",)),
)


def classes(layer: str) -> dict[str, str]:
    """
    Class name → module name within ``layer`` (``operators``, ``sensors`` or ``triggers``).

    :param layer: the layer's package name.
    """
    return {cls: area.name for area in AREAS for cls in getattr(area, layer)}


def modules(layer: str) -> list[str]:
    """
    The modules of ``layer`` that hold at least one class, in table order.

    :param layer: the layer's package name.
    """
    return [area.name for area in AREAS if getattr(area, layer)]

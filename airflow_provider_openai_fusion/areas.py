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
    :param label: how the provider's description names the area (default: the name, ``_`` as spaces).
    """

    name: str
    operators: tuple[str, ...] = ()
    sensors: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    label: str = ""

    @property
    def title(self) -> str:
        """The area as the provider's description names it."""
        return self.label or self.name.replace("_", " ")


AREAS: tuple[Area, ...] = (
    Area("models", operators=("OpenAIGetModelsOperator",)),
    Area("completions", operators=("OpenAICompletionOperator",)),
    Area("chat", operators=("OpenAIChatCompletionOperator", "OpenAIEditOperator")),
    Area("moderations", operators=("OpenAIModerationOperator",)),
    Area("embeddings", operators=("OpenAIEmbeddingsOperator",)),
    Area("custom", operators=("OpenAICustomAPICallOperator",), label="custom API calls"),
    Area("images", operators=("OpenAIGenerateImageOperator", "OpenAIEditImageOperator")),
    Area("audio", operators=("OpenAIManageAudioOperator",)),
    Area("files", operators=("OpenAIManageFilesOperator",)),
    Area(
        "fine_tuning",
        operators=("OpenAIManageFineTunesOperator",),
        sensors=("OpenAIFineTuningJobSensor",),
        triggers=("OpenAIFineTuningJobTrigger",),
        label="fine-tuning",
    ),
    Area("responses", operators=("OpenAIResponseOperator",), triggers=("OpenAIResponseTrigger",), label="Responses"),
    Area(
        "batches",
        operators=("OpenAIBatchOperator",),
        sensors=("OpenAIBatchSensor",),
        triggers=("OpenAIBatchTrigger",),
        label="Batch",
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


def description() -> str:
    """The provider's one-line description (``airflow providers list``), naming every area of the table."""
    titles = [area.title for area in AREAS]
    return (
        f"The OpenAI API ({', '.join(titles[:-1])} and {titles[-1]}), "
        "with the modules of Workfront Fusion's OpenAI connector."
    )


def modules(layer: str) -> list[str]:
    """
    The modules of ``layer`` that hold at least one class, in table order.

    :param layer: the layer's package name.
    """
    return [area.name for area in AREAS if getattr(area, layer)]

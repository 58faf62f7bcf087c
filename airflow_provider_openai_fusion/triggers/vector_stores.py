"""The trigger that waits for a vector-store file batch in the triggerer."""

from __future__ import annotations

from airflow_provider_openai_fusion.api.vector_stores import FILE_BATCHES
from airflow_provider_openai_fusion.triggers._base import JobTrigger


class OpenAIVectorStoreFileBatchTrigger(JobTrigger):
    """
    Poll a vector-store file batch until it settles, writing its file counts to the log; then yield one event:
    ``completed``/``failed``/``cancelled`` with the batch, ``timeout`` past ``deadline``, or ``error``. The
    ``job_id`` is ``<vector store id>/<batch id>``. Arguments as for
    :class:`~airflow_provider_openai_fusion.triggers._base.JobTrigger`.
    """

    kind = FILE_BATCHES

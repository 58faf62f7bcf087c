"""The trigger that waits for a background response in the triggerer."""

from __future__ import annotations

from airflow_provider_openai_fusion.api.responses import RESPONSES
from airflow_provider_openai_fusion.triggers._base import JobTrigger


class OpenAIResponseTrigger(JobTrigger):
    """
    Poll a background response (GET /responses/{id}) until it ends; then yield one event:
    ``completed``/``incomplete``/``failed``/``cancelled`` with the response, ``timeout`` past ``deadline``, or
    ``error``. With ``cancel_on_kill``, killing the deferred task cancels the response. Arguments as for
    :class:`~airflow_provider_openai_fusion.triggers._base.JobTrigger`.
    """

    kind = RESPONSES

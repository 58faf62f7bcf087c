"""
What the batch operator submitted, kept in the task instance's ``task_state_store`` (Airflow 3.3+) part by part:
the input file's id as soon as it is uploaded, the batch's id as soon as it is created. A retry with the same
request re-attaches to those batches (and reuses an uploaded input whose batch was never created) and to nothing
else; without a store (Airflow 3.2) the operator falls back to matching metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_openai_fusion.operators._ownership import fingerprint, record, recorded

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.api.batch_input import Part
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

# The task_state_store key holding {"request": <hash>, "parts": {"<n>/<total>": {"digest", "file_id", "batch_id"}}}.
STATE_KEY = "openai_fusion_batches"


class BatchRecord:
    """
    The record of one try: what earlier tries of the task instance submitted for the same request, and what this
    try adds to it.

    :param context: the task's context.
    :param request: the request the batches are made from (endpoint, window, metadata): a changed one starts over.
    """

    def __init__(self, context: Mapping[str, Any], request: Mapping[str, Any]) -> None:
        self.context = context
        self.request = fingerprint(request)
        saved = recorded(context, STATE_KEY) or {}
        same = saved.get("request") == self.request and isinstance(saved.get("parts"), Mapping)
        self.parts: dict[str, dict[str, Any]] = {
            str(label): dict(entry)
            for label, entry in (saved["parts"].items() if same else ())
            if isinstance(entry, Mapping)
        }

    def earlier(self, label: str, part: Part, key: str) -> str | None:
        """
        The id (``key``: ``file_id`` or ``batch_id``) an earlier try recorded for this part with the same bytes.

        :param label: the part's label (``2/3``).
        :param part: the part.
        :param key: which id.
        """
        entry = self.parts.get(label) or {}
        value = entry.get(key) if entry.get("digest") == part.digest else None
        return str(value) if value else None

    def keep(self, label: str, part: Part, **ids: str) -> None:
        """
        Record ids of this part at once (the input file when uploaded, then the batch when created).

        :param label: the part's label.
        :param part: the part.
        :param ids: ``file_id`` and/or ``batch_id``.
        """
        entry = self.parts.get(label) if self.earlier(label, part, "file_id") else None
        self.parts[label] = {**(entry or {}), "digest": part.digest, **ids}
        record(self.context, STATE_KEY, {"request": self.request, "parts": self.parts})


def reusable_input(hook: OpenAIFusionHook, file_id: str, part: Part) -> bool:
    """
    Whether an input file an earlier try uploaded for ``part`` is still there, whole.

    :param hook: the hook.
    :param file_id: the file recorded.
    :param part: the part it was uploaded for.
    """
    from airflow_provider_openai_fusion.api.files import retrieve_file
    from airflow_provider_openai_fusion.exceptions import NotFoundError

    try:
        found = hook.request(retrieve_file(file_id))
    except NotFoundError:
        return False
    return cast("bool", found.get("bytes") == part.size and found.get("purpose") == "batch")

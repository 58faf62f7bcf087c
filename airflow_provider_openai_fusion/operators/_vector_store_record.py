"""
What ``add_files`` / ``sync`` of the vector-store operator created, kept in the task instance's
``task_state_store`` (Airflow 3.3+): each uploaded file's id as soon as it is uploaded, then the file batch with the
plan it carries out. A retry with the same request reuses those uploads and re-attaches to that batch, and to
nothing else; it is forgotten once the batch's outcome has been handled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_openai_fusion.operators._ownership import fingerprint, record, recorded

# {"request": <hash>, "uploads": {name: {"file_id", "sha256"}}, "state": <the plan, with "batch_id">}
STATE_KEY = "openai_fusion_vector_store_files"


class FileBatchRecord:
    """
    The record of one try of ``add_files`` / ``sync``.

    :param context: the task's context.
    :param request: what the try is asked to do (action, store, files and their hashes, per-file fields).
    """

    def __init__(self, context: Mapping[str, Any], request: Mapping[str, Any]) -> None:
        self.context = context
        self.request = fingerprint(request)
        saved = recorded(context, STATE_KEY) or {}
        same = saved.get("request") == self.request
        uploads = saved.get("uploads") if same else None
        self.uploads: dict[str, Any] = dict(uploads) if isinstance(uploads, Mapping) else {}
        state = saved.get("state") if same else None
        self.state: dict[str, Any] | None = dict(state) if isinstance(state, Mapping) else None

    def earlier_upload(self, name: str, sha256: str | None) -> str | None:
        """
        The file an earlier try uploaded for ``name`` with the same content, if any.

        :param name: the file's name.
        :param sha256: its content hash.
        """
        entry = self.uploads.get(name)
        if isinstance(entry, Mapping) and entry.get("sha256") == sha256 and entry.get("file_id"):
            return str(entry["file_id"])
        return None

    def keep_upload(self, name: str, sha256: str | None, file_id: str) -> None:
        """
        Record an upload the moment it exists.

        :param name: the file's name.
        :param sha256: its content hash.
        :param file_id: the uploaded file.
        """
        self.uploads[name] = {"file_id": file_id, "sha256": sha256}
        self._save()

    def keep_batch(self, state: Mapping[str, Any]) -> None:
        """
        Record the file batch (``state["batch_id"]``) and the plan it carries out, the moment it exists.

        :param state: the plan, with the batch's id.
        """
        self.state = dict(state)
        self._save()

    def _save(self) -> None:
        record(self.context, STATE_KEY, {"request": self.request, "uploads": self.uploads, "state": self.state})

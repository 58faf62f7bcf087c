"""Fusion's "Manage files" module: list, upload, retrieve, download and delete files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

if TYPE_CHECKING:
    from pathlib import Path

    from airflow.sdk import Context

ACTIONS = ("list", "upload", "retrieve", "retrieve_content", "delete")


class OpenAIManageFilesOperator(OpenAIFusionBaseOperator):
    """
    Manage the files of the connection's organization or project.

    Uploads stream from the file and downloads stream to disk (under a temporary name, renamed when
    complete), so memory stays flat whatever the size. A file above 512 MB goes through the Uploads API on its
    own: 64 MB parts sent several at a time (each retried on its own), completed in order with the file's MD5,
    and the upload cancelled if anything fails for good. Limits are checked before sending: up to 8 GB for
    ``assistants``, ``fine-tune`` and ``vision``, 512 MB for ``user_data`` and ``evals``; ``batch`` and
    ``fine-tune`` take ``.jsonl`` files, ``batch`` at most 200 MB.

    :param action: ``list``, ``upload``, ``retrieve``, ``retrieve_content`` or ``delete``. (templated)
    :param file_id: the file id, for ``retrieve``, ``retrieve_content`` and ``delete``. (templated)
    :param file: the file to upload: a local path or an ``ObjectStoragePath`` URI. (templated)
    :param purpose: for ``upload``: ``assistants``, ``batch``, ``fine-tune``, ``vision``, ``user_data`` or
        ``evals``; for ``list``: only files of this purpose. (templated)
    :param output_path: for ``retrieve_content``: the file to write (local path or URI). (templated)
    :param limit: for ``list``: return at most this many files (pages are followed until then).
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``list``: a list of file objects; ``upload`` / ``retrieve``: the file object; ``delete``: the
        deletion object; ``retrieve_content``: the path written.
    """

    template_fields: Sequence[str] = ("conn_id", "action", "file_id", "file", "purpose", "output_path")

    def __init__(
        self,
        *,
        action: str = "list",
        file_id: str | None = None,
        file: str | None = None,
        purpose: str | None = None,
        output_path: str | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.file_id = file_id
        self.file = file
        self.purpose = purpose
        self.output_path = output_path
        self.limit = limit

    def execute(self, context: Context) -> list[dict[str, Any]] | dict[str, Any] | str:
        from airflow_provider_openai_fusion.api import files
        from airflow_provider_openai_fusion.api._base import choice, identifier, required
        from airflow_provider_openai_fusion.operators._io import write_output

        action = choice("action", self.action, ACTIONS)
        because = f"action={action!r}"
        if action == "list":
            return self._list()
        if action == "upload":
            return self._upload(because)
        file_id = identifier("file_id", required("file_id", self.file_id, because), "a file id such as file-...")
        if action == "retrieve":
            return cast("list[dict[str, Any]] | dict[str, Any] | str", self.hook.request(files.retrieve_file(file_id)))
        if action == "delete":
            deleted = self.hook.request(files.delete_file(file_id))
            self.log.info("Deleted %s: %s", file_id, deleted.get("deleted"))
            return cast("list[dict[str, Any]] | dict[str, Any] | str", deleted)
        output_path = required("output_path", self.output_path, because)
        spec = files.retrieve_file_content(file_id)

        def download(path: Path) -> Path:
            declared = self.hook.request(files.retrieve_file(file_id)).get("bytes")  # the content may not exceed it
            size = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
            return self.hook.download(spec, path, size=size)

        written = write_output("output_path", output_path, download)
        self.log.info("Wrote the content of %s to %s", file_id, written)
        return written

    def _list(self) -> list[dict[str, Any]]:
        from airflow_provider_openai_fusion.api._base import positive_int, validate_request
        from airflow_provider_openai_fusion.api.files import ListFilesQuery, list_files

        query = validate_request(ListFilesQuery, {"purpose": self.purpose, "limit": positive_int("limit", self.limit)})
        found = self.hook.paginate(list_files(query.purpose), query.limit)
        self.log.info("%d files", len(found))
        return found

    def _upload(self, because: str) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import required, validate_request
        from airflow_provider_openai_fusion.api.files import UploadFileFields
        from airflow_provider_openai_fusion.operators._io import local_input
        from airflow_provider_openai_fusion.operators._upload import check_upload, upload

        purpose = validate_request(UploadFileFields, {"purpose": required("purpose", self.purpose, because)}).purpose
        with local_input("file", required("file", self.file, because)) as path:
            check_upload("file", path, purpose)
            uploaded = upload(self.hook, path, purpose, self.log)
        self.log.info("Uploaded %s as %s (%s bytes)", path.name, uploaded.get("id"), uploaded.get("bytes"))
        return uploaded

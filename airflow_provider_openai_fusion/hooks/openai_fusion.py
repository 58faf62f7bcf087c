"""The hook: the Airflow Connection plus one method per API call, each with a sync and an async twin."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_openai_fusion import _calls
from airflow_provider_openai_fusion._core import ClientSettings, RequestSpec, settings_from_connection
from airflow_provider_openai_fusion.exceptions import OpenAIFusionError

if TYPE_CHECKING:
    import httpx

    from airflow_provider_openai_fusion._core import FilePart
    from airflow_provider_openai_fusion._transport import AsyncDriver, RawResponse, SyncDriver


def _checked(spec: RequestSpec, payload: Any) -> Any:
    """Check a JSON answer against the spec's response model, if it names one; return it unchanged."""
    if spec.response:
        from airflow_provider_openai_fusion.models.responses import check_response

        check_response(payload, spec.response, listing=spec.listing, what=f"{spec.method} /{spec.path}")
    return payload


class OpenAIFusionHook(BaseHook):
    """
    Talks to the OpenAI API (or any OpenAI-compatible server) with the settings of an Airflow Connection.

    The Connection is read once. One ``httpx.Client`` and one ``httpx.AsyncClient`` are created on first use
    and reused (keep-alive). Retryable failures are retried up to ``max_retries`` with backoff.

    :param conn_id: the Airflow Connection of type ``openai_fusion``.
    :param timeout: per-request timeout in seconds; wins over the connection's ``timeout`` extra.
    :param max_retries: retries of retryable failures; wins over the connection's ``max_retries`` extra.
    :param transport: an httpx transport used by both clients (``httpx.MockTransport`` in tests).
    """

    conn_name_attr = "conn_id"
    default_conn_name = "openai_fusion_default"
    conn_type = "openai_fusion"
    hook_name = "OpenAI Fusion"

    def __init__(
        self,
        conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._transport = transport

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    @cached_property
    def settings(self) -> ClientSettings:
        """The validated connection settings (the API key is registered with Airflow's secrets masker)."""
        conn = self.get_connection(self.conn_id)
        return self._settings_from(conn)

    async def aget_settings(self) -> ClientSettings:
        """Read the settings from an event loop, without blocking it (works in the triggerer and in dag.test)."""
        if "settings" not in self.__dict__:
            from asgiref.sync import sync_to_async

            self.__dict__["settings"] = self._settings_from(await sync_to_async(self.get_connection)(self.conn_id))
        return self.settings

    def _settings_from(self, conn: Any) -> ClientSettings:
        from airflow.sdk.log import mask_secret

        if conn.password:
            mask_secret(conn.password)
        settings = settings_from_connection(
            self.conn_id,
            host=conn.host,
            password=conn.password,
            extra=conn.extra_dejson,
            schema=conn.schema,
            port=conn.port,
        )
        overrides = {"timeout": self._timeout, "max_retries": self._max_retries}
        return dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})

    @cached_property
    def _sync(self) -> SyncDriver:
        from airflow_provider_openai_fusion._transport import SyncDriver

        return SyncDriver(self.settings, self._transport)  # type: ignore[arg-type]

    @cached_property
    def _async(self) -> AsyncDriver:
        from airflow_provider_openai_fusion._transport import AsyncDriver

        return AsyncDriver(self.settings, self._transport)  # type: ignore[arg-type]

    def get_conn(self) -> ClientSettings:
        """Return the validated connection settings."""
        return self.settings

    def close(self) -> None:
        """Close the sync client (the async one is closed by :meth:`aclose`)."""
        if "_sync" in self.__dict__:
            self.__dict__.pop("_sync").close()

    async def aclose(self) -> None:
        """Close the async client."""
        if "_async" in self.__dict__:
            await self.__dict__.pop("_async").aclose()

    # Generic calls: every API method below goes through these.

    def request(self, spec: RequestSpec) -> Any:
        """
        Send one call and return its JSON answer, checked against the call's response model.

        :param spec: the call.
        """
        from airflow_provider_openai_fusion._transport import read_json

        return _checked(spec, self._sync.send(spec, read_json))

    async def arequest(self, spec: RequestSpec) -> Any:
        """
        Send one call and return its JSON answer, checked against the call's response model (async).

        :param spec: the call.
        """
        from airflow_provider_openai_fusion._transport import aread_json

        await self.aget_settings()
        return _checked(spec, await self._async.send(spec, aread_json))

    def request_raw(self, spec: RequestSpec) -> RawResponse:
        """
        Send one call and return the whole answer, whatever its content type.

        :param spec: the call.
        """
        from airflow_provider_openai_fusion._transport import read_raw

        return self._sync.send(spec, read_raw)

    async def arequest_raw(self, spec: RequestSpec) -> RawResponse:
        """
        Send one call and return the whole answer, whatever its content type (async).

        :param spec: the call.
        """
        from airflow_provider_openai_fusion._transport import aread_raw

        await self.aget_settings()
        return await self._async.send(spec, aread_raw)

    def download(self, spec: RequestSpec, path: Path) -> Path:
        """
        Stream an answer's body to ``path``: written under a temporary name, renamed when complete.

        :param spec: the call.
        :param path: the local file to write.
        """
        from airflow_provider_openai_fusion._transport import write_to

        return self._sync.send(spec, write_to(path))

    async def adownload(self, spec: RequestSpec, path: Path) -> Path:
        """
        Stream an answer's body to ``path`` (async): written under a temporary name, renamed when complete.

        :param spec: the call.
        :param path: the local file to write.
        """
        from airflow_provider_openai_fusion._transport import awrite_to

        await self.aget_settings()
        return await self._async.send(spec, awrite_to(path))

    def paginate(self, spec: RequestSpec, limit: int | None = None) -> list[dict[str, Any]]:
        """
        Follow ``has_more`` across pages and return the items, at most ``limit`` of them.

        :param spec: the first page's call.
        :param limit: the most items to return; ``None`` for all.
        """
        items: list[dict[str, Any]] = []
        next_spec: RequestSpec | None = spec
        while next_spec is not None:
            page = self.request(next_spec)
            items += page.get("data") or []
            next_spec = _calls.next_page(next_spec, page, len(items), limit)
        return items[:limit] if limit is not None else items

    async def apaginate(self, spec: RequestSpec, limit: int | None = None) -> list[dict[str, Any]]:
        """
        Follow ``has_more`` across pages and return the items, at most ``limit`` of them (async).

        :param spec: the first page's call.
        :param limit: the most items to return; ``None`` for all.
        """
        items: list[dict[str, Any]] = []
        next_spec: RequestSpec | None = spec
        while next_spec is not None:
            page = await self.arequest(next_spec)
            items += page.get("data") or []
            next_spec = _calls.next_page(next_spec, page, len(items), limit)
        return items[:limit] if limit is not None else items

    # Models

    def list_models(self) -> list[dict[str, Any]]:
        """List the models available to the key."""
        return self.paginate(_calls.list_models())

    async def alist_models(self) -> list[dict[str, Any]]:
        """List the models available to the key (async)."""
        return await self.apaginate(_calls.list_models())

    def retrieve_model(self, model: str) -> dict[str, Any]:
        """
        Retrieve one model.

        :param model: the model id.
        """
        return self.request(_calls.retrieve_model(model))

    async def aretrieve_model(self, model: str) -> dict[str, Any]:
        """
        Retrieve one model (async).

        :param model: the model id.
        """
        return await self.arequest(_calls.retrieve_model(model))

    def delete_model(self, model: str) -> dict[str, Any]:
        """
        Delete a fine-tuned model.

        :param model: the fine-tuned model id.
        """
        return self.request(_calls.delete_model(model))

    async def adelete_model(self, model: str) -> dict[str, Any]:
        """
        Delete a fine-tuned model (async).

        :param model: the fine-tuned model id.
        """
        return await self.arequest(_calls.delete_model(model))

    # Text

    def create_completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create a (legacy) completion.

        :param body: the validated request body.
        """
        return self.request(_calls.create_completion(body))

    async def acreate_completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create a (legacy) completion (async).

        :param body: the validated request body.
        """
        return await self.arequest(_calls.create_completion(body))

    def create_chat_completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create a chat completion.

        :param body: the validated request body.
        """
        return self.request(_calls.create_chat_completion(body))

    async def acreate_chat_completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create a chat completion (async).

        :param body: the validated request body.
        """
        return await self.arequest(_calls.create_chat_completion(body))

    def create_moderation(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Classify text for policy violations.

        :param body: the validated request body.
        """
        return self.request(_calls.create_moderation(body))

    async def acreate_moderation(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Classify text for policy violations (async).

        :param body: the validated request body.
        """
        return await self.arequest(_calls.create_moderation(body))

    def create_embeddings(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create embeddings for one request's worth of inputs.

        :param body: the validated request body.
        """
        return self.request(_calls.create_embeddings(body))

    async def acreate_embeddings(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create embeddings for one request's worth of inputs (async).

        :param body: the validated request body.
        """
        return await self.arequest(_calls.create_embeddings(body))

    # Images

    def create_image(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Generate images from a prompt.

        :param body: the validated request body.
        """
        return self.request(_calls.create_image(body))

    async def acreate_image(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Generate images from a prompt (async).

        :param body: the validated request body.
        """
        return await self.arequest(_calls.create_image(body))

    def edit_image(self, fields: Mapping[str, Any], images: list[FilePart], mask: FilePart | None) -> dict[str, Any]:
        """
        Edit images (multipart upload).

        :param fields: the validated form fields.
        :param images: the image files.
        :param mask: the optional mask file.
        """
        return self.request(_calls.edit_image(fields, images, mask))

    async def aedit_image(
        self, fields: Mapping[str, Any], images: list[FilePart], mask: FilePart | None
    ) -> dict[str, Any]:
        """
        Edit images (multipart upload, async).

        :param fields: the validated form fields.
        :param images: the image files.
        :param mask: the optional mask file.
        """
        return await self.arequest(_calls.edit_image(fields, images, mask))

    def create_image_variation(self, fields: Mapping[str, Any], image: FilePart) -> dict[str, Any]:
        """
        Create variations of an image (multipart upload).

        :param fields: the validated form fields.
        :param image: the image file.
        """
        return self.request(_calls.create_image_variation(fields, image))

    async def acreate_image_variation(self, fields: Mapping[str, Any], image: FilePart) -> dict[str, Any]:
        """
        Create variations of an image (multipart upload, async).

        :param fields: the validated form fields.
        :param image: the image file.
        """
        return await self.arequest(_calls.create_image_variation(fields, image))

    # Audio

    def audio(self, operation: str, fields: Mapping[str, Any], file: FilePart) -> RawResponse:
        """
        Transcribe or translate an audio file; the answer is JSON or text depending on ``response_format``.

        :param operation: ``transcribe`` or ``translate``.
        :param fields: the validated form fields.
        :param file: the audio file.
        """
        return self.request_raw(_calls.audio(operation, fields, file))

    async def aaudio(self, operation: str, fields: Mapping[str, Any], file: FilePart) -> RawResponse:
        """
        Transcribe or translate an audio file (async).

        :param operation: ``transcribe`` or ``translate``.
        :param fields: the validated form fields.
        :param file: the audio file.
        """
        return await self.arequest_raw(_calls.audio(operation, fields, file))

    # Files

    def list_files(self, purpose: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """
        List uploaded files, following pages.

        :param purpose: only files of this purpose.
        :param limit: the most files to return.
        """
        return self.paginate(_calls.list_files({"purpose": purpose}), limit)

    async def alist_files(self, purpose: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """
        List uploaded files, following pages (async).

        :param purpose: only files of this purpose.
        :param limit: the most files to return.
        """
        return await self.apaginate(_calls.list_files({"purpose": purpose}), limit)

    def upload_file(self, file: Path, purpose: str) -> dict[str, Any]:
        """
        Upload a file, streamed from disk (a retry re-sends it from its start).

        :param file: the local file.
        :param purpose: the file's purpose.
        """
        return self.request(_calls.upload_file(file, purpose))

    async def aupload_file(self, file: Path, purpose: str) -> dict[str, Any]:
        """
        Upload a file, streamed from disk (async).

        :param file: the local file.
        :param purpose: the file's purpose.
        """
        return await self.arequest(_calls.upload_file(file, purpose))

    def retrieve_file(self, file_id: str) -> dict[str, Any]:
        """
        Retrieve a file object.

        :param file_id: the file id.
        """
        return self.request(_calls.retrieve_file(file_id))

    async def aretrieve_file(self, file_id: str) -> dict[str, Any]:
        """
        Retrieve a file object (async).

        :param file_id: the file id.
        """
        return await self.arequest(_calls.retrieve_file(file_id))

    def download_file_content(self, file_id: str, path: Path) -> Path:
        """
        Stream a file's content to ``path``.

        :param file_id: the file id.
        :param path: the local file to write.
        """
        return self.download(_calls.retrieve_file_content(file_id), path)

    async def adownload_file_content(self, file_id: str, path: Path) -> Path:
        """
        Stream a file's content to ``path`` (async).

        :param file_id: the file id.
        :param path: the local file to write.
        """
        return await self.adownload(_calls.retrieve_file_content(file_id), path)

    def delete_file(self, file_id: str) -> dict[str, Any]:
        """
        Delete a file.

        :param file_id: the file id.
        """
        return self.request(_calls.delete_file(file_id))

    async def adelete_file(self, file_id: str) -> dict[str, Any]:
        """
        Delete a file (async).

        :param file_id: the file id.
        """
        return await self.arequest(_calls.delete_file(file_id))

    # Fine-tuning

    def create_fine_tuning_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create a fine-tuning job.

        :param body: the validated request body.
        """
        return self.request(_calls.create_fine_tuning_job(body))

    async def acreate_fine_tuning_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create a fine-tuning job (async).

        :param body: the validated request body.
        """
        return await self.arequest(_calls.create_fine_tuning_job(body))

    def list_fine_tuning_jobs(
        self, metadata: Mapping[str, str] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """
        List fine-tuning jobs (newest first), following pages.

        :param metadata: only jobs whose metadata has these keys and values.
        :param limit: the most jobs to return.
        """
        params = {f"metadata[{key}]": value for key, value in (metadata or {}).items()}
        return self.paginate(_calls.list_fine_tuning_jobs(params), limit)

    async def alist_fine_tuning_jobs(
        self, metadata: Mapping[str, str] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """
        List fine-tuning jobs (newest first), following pages (async).

        :param metadata: only jobs whose metadata has these keys and values.
        :param limit: the most jobs to return.
        """
        params = {f"metadata[{key}]": value for key, value in (metadata or {}).items()}
        return await self.apaginate(_calls.list_fine_tuning_jobs(params), limit)

    def retrieve_fine_tuning_job(self, job_id: str) -> dict[str, Any]:
        """
        Retrieve a fine-tuning job.

        :param job_id: the job id.
        """
        return self.request(_calls.retrieve_fine_tuning_job(job_id))

    async def aretrieve_fine_tuning_job(self, job_id: str) -> dict[str, Any]:
        """
        Retrieve a fine-tuning job (async).

        :param job_id: the job id.
        """
        return await self.arequest(_calls.retrieve_fine_tuning_job(job_id))

    def cancel_fine_tuning_job(self, job_id: str) -> dict[str, Any]:
        """
        Cancel a fine-tuning job.

        :param job_id: the job id.
        """
        return self.request(_calls.cancel_fine_tuning_job(job_id))

    async def acancel_fine_tuning_job(self, job_id: str) -> dict[str, Any]:
        """
        Cancel a fine-tuning job (async).

        :param job_id: the job id.
        """
        return await self.arequest(_calls.cancel_fine_tuning_job(job_id))

    def list_fine_tuning_events(
        self, job_id: str, after: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """
        List a job's events as the API does: newest first, paging backwards with ``after``.

        :param job_id: the job id.
        :param after: only events older than this event id.
        :param limit: the most events to return.
        """
        return self.paginate(_calls.list_fine_tuning_events(job_id, {"after": after}), limit)

    async def alist_fine_tuning_events(
        self, job_id: str, after: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """
        List a job's events as the API does: newest first, paging backwards with ``after`` (async).

        :param job_id: the job id.
        :param after: only events older than this event id.
        :param limit: the most events to return.
        """
        return await self.apaginate(_calls.list_fine_tuning_events(job_id, {"after": after}), limit)

    # Connection test (the UI's Test button)

    def test_connection(self) -> tuple[bool, str]:
        """List models with the connection's settings; report OpenAI's error message on failure."""
        try:
            models = self.list_models()
        except OpenAIFusionError as exc:
            return False, str(exc)
        finally:
            self.close()
        return True, f"Connection works: {len(models)} models available at {self.settings.base_url}"

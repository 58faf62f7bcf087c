"""
Upload one local file, whatever its size: up to 512 MB in one multipart request (``POST /files``), above that
through the Uploads API: 64 MB parts read from disk as they are sent, several at once through ``hook.bulk``
(each part retried on its own by the hook), completed with the part ids in file order and the file's MD5, and
cancelled when anything fails for good. Used by the files and the vector-store operators.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_openai_fusion.exceptions import APIResponseValidationError

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

MB = 1024 * 1024
BATCH_MAX_BYTES = 200 * MB
JSONL_PURPOSES = ("batch", "fine-tune")
# Parts in flight at once. hook.bulk sends them from one event loop, each streamed from disk 64 KiB at a time, so
# memory stays flat whatever the number; a few streams fill a link that one stream cannot (latency, per-stream
# limits), more only add contention on the server and the local disk.
PART_CONCURRENCY = 4
_HASH_CHUNK = 4 * MB


def check_upload(argument: str, path: Path, purpose: str) -> int:
    """
    Check a file against the limits of its purpose before anything is sent; return its size. ``batch`` files are
    at most 200 MB; the Uploads API's purposes take up to 8 GB (in parts above 512 MB); the others 512 MB.
    ``batch`` and ``fine-tune`` take ``.jsonl`` files.

    :param argument: the argument the file came from, for the error.
    :param path: the local file.
    :param purpose: the file's purpose.
    """
    from airflow_provider_openai_fusion.api import files, uploads
    from airflow_provider_openai_fusion.operators._io import check_file

    if purpose == "batch":
        max_bytes = BATCH_MAX_BYTES
    elif purpose in uploads.UPLOAD_PURPOSES:
        max_bytes = uploads.MAX_UPLOAD_BYTES
    else:
        max_bytes = files.MAX_FILE_BYTES
    return check_file(argument, path, max_bytes=max_bytes, suffixes=("jsonl",) if purpose in JSONL_PURPOSES else None)


def upload(hook: OpenAIFusionHook, path: Path, purpose: str, log: Any) -> dict[str, Any]:
    """
    Upload ``path`` (checked with :func:`check_upload`) and return the file object.

    :param hook: the hook.
    :param path: the local file.
    :param purpose: the file's purpose.
    :param log: the task's logger.
    """
    from airflow_provider_openai_fusion.api import files

    size = path.stat().st_size
    if size <= files.MAX_FILE_BYTES:
        return cast("dict[str, Any]", hook.request(files.upload_file(path, purpose)))
    return _upload_in_parts(hook, path, purpose, size, log)


def content_hash(path: Path) -> str:
    """
    The SHA-256 of a file's content in hex, read in chunks (how the vector-store operator knows a changed file).

    :param path: the local file.
    """
    digest = hashlib.sha256()
    for chunk in _chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def delete_files(hook: OpenAIFusionHook, file_ids: list[str], log: Any) -> None:
    """
    Delete uploaded files that cannot be used (a failed task would leave them as orphans); failures are logged.

    :param hook: the hook.
    :param file_ids: the files.
    :param log: the task's logger.
    """
    from airflow_provider_openai_fusion.api import files

    for file_id in file_ids:
        try:
            hook.request(files.delete_file(file_id))
        except Exception as exc:
            log.warning("Could not delete uploaded file %s: %s", file_id, exc)


def _md5(path: Path, stop: threading.Event) -> str | None:
    """The file's MD5 in hex, read alongside the parts; ``None`` when ``stop`` is set first."""
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in _chunks(path):
        if stop.is_set():
            return None
        digest.update(chunk)
    return digest.hexdigest()


def _chunks(path: Path) -> Iterator[memoryview]:
    """
    The file's bytes, read into one reused buffer (a fresh 4 MiB object per read costs more than hashing it).

    :param path: the local file.
    """
    buffer = memoryview(bytearray(_HASH_CHUNK))
    with path.open("rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            yield buffer[:count]


def _upload_in_parts(hook: OpenAIFusionHook, path: Path, purpose: str, size: int, log: Any) -> dict[str, Any]:
    from airflow_provider_openai_fusion.api import uploads

    body = uploads.CreateUploadRequest(
        filename=path.name, purpose=cast(Any, purpose), bytes=size, mime_type=uploads.mime_type(path)
    )
    ranges = uploads.part_ranges(size, uploads.PART_BYTES)
    upload_id = hook.request(uploads.create_upload(body))["id"]
    log.info(
        "Uploading %s (%d bytes) as upload %s: %d parts of up to %d MB, %d at a time",
        path.name,
        size,
        upload_id,
        len(ranges),
        uploads.PART_BYTES // MB,
        PART_CONCURRENCY,
    )
    stop = threading.Event()
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="openai-fusion-md5") as pool:
            md5 = pool.submit(_md5, path, stop)
            try:
                parts = hook.bulk(
                    [uploads.add_part(upload_id, path, offset, length) for offset, length in ranges], PART_CONCURRENCY
                )
            except BaseException:
                stop.set()
                raise
            digest = md5.result()
        completed = hook.request(uploads.complete_upload(upload_id, [part["id"] for part in parts], digest))
    except BaseException as exc:
        _cancel(hook, upload_id, exc, log)
        raise
    file = completed.get("file")
    if completed.get("status") != "completed" or not isinstance(file, dict) or not file.get("id"):
        raise APIResponseValidationError(
            f"upload {upload_id} did not complete: status {completed.get('status')!r}, file {file!r}"
        )
    log.info("Completed upload %s: file %s", upload_id, file["id"])
    return file


def _cancel(hook: OpenAIFusionHook, upload_id: str, cause: BaseException, log: Any) -> None:
    """Cancel an upload that cannot finish; a failing cancel is logged, the original error is what counts."""
    from airflow_provider_openai_fusion.api import uploads

    log.error("Upload %s failed (%s: %s); cancelling it", upload_id, type(cause).__name__, cause)
    try:
        cancelled = hook.request(uploads.cancel_upload(upload_id))
    except Exception as exc:
        log.warning("Could not cancel upload %s: %s", upload_id, exc)
        return
    log.info("Cancelled upload %s (status %s)", upload_id, cancelled.get("status"))

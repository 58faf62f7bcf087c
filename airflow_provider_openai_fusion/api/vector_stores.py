"""
The Vector stores API: stores, the files attached to them, file batches (and how to wait for one: its
``JobKind``), search; and the plan of a sync (which files to add, keep and remove), worked out without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, NamedTuple

from pydantic import Field, field_validator

from airflow_provider_openai_fusion import wait_defaults
from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion._waiting import JobKind, Look
from airflow_provider_openai_fusion.api._base import Deletion, RequestModel, ResponseModel, segment
from airflow_provider_openai_fusion.exceptions import JobFailedError

MAX_BATCH_FILES = 2000
MAX_ATTRIBUTES = 16
NAME_ATTRIBUTE = "filename"
HASH_ATTRIBUTE = "sha256"
# The provider's mark: the metadata entry of a store it created, and the attribute of each store file whose File it
# uploaded. A sync changes only a marked store (unless given its id) and detaches or deletes only marked files.
OWNER_KEY = "managed_by"
OWNER = "airflow-provider-openai-fusion"
LIST_PAGE_SIZE = 100

AttributeValue = Annotated[str, Field(max_length=512)] | float | bool


def files_count(count: int) -> str:
    """
    ``count`` files, in words: ``1 file``, ``2 files``.

    :param count: how many.
    """
    return f"{count} file" if count == 1 else f"{count} files"


def _check_attributes(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None:
        if len(value) > MAX_ATTRIBUTES:
            raise ValueError(f"at most {MAX_ATTRIBUTES} attributes, got {len(value)}")
        if long := [key for key in value if len(key) > 64]:
            raise ValueError(f"attribute name {long[0][:20]!r}... is longer than 64 characters")
    return value


class CreateVectorStoreRequest(RequestModel):
    """The body of POST /vector_stores."""

    name: str | None = None
    file_ids: Annotated[list[str], Field(max_length=500)] | None = None
    expires_after: dict[str, Any] | None = None
    chunking_strategy: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None


class StoreFile(RequestModel):
    """One file of a file batch: its id and the attributes it is filtered by."""

    file_id: Annotated[str, Field(min_length=1)]
    attributes: dict[str, AttributeValue] | None = None
    chunking_strategy: dict[str, Any] | None = None

    _attributes = field_validator("attributes")(_check_attributes)


class CreateFileBatchRequest(RequestModel):
    """The body of POST /vector_stores/{id}/file_batches, in its per-file form."""

    files: Annotated[list[StoreFile], Field(min_length=1, max_length=MAX_BATCH_FILES)]


class SearchRequest(RequestModel):
    """The body of POST /vector_stores/{id}/search."""

    query: (
        Annotated[str, Field(min_length=1)] | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    )
    max_num_results: Annotated[int, Field(ge=1, le=50)] | None = None
    filters: dict[str, Any] | None = None
    rewrite_query: bool | None = None
    ranking_options: dict[str, Any] | None = None


class VectorStore(ResponseModel):
    """A vector store."""

    id: str
    name: str | None = None
    status: str


class VectorStoreFile(ResponseModel):
    """A file attached to a vector store; ``last_error`` says why one failed."""

    id: str
    status: str
    last_error: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = None


class FileBatch(ResponseModel):
    """A vector-store file batch."""

    id: str
    vector_store_id: str
    status: str
    file_counts: dict[str, int] | None = None


class SearchResults(ResponseModel):
    """A page of search results."""

    data: list[dict[str, Any]]


def create_vector_store(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /vector_stores.

    :param body: the validated request body.
    """
    return RequestSpec("POST", "vector_stores", json=dict(body), response=VectorStore)


def list_vector_stores() -> RequestSpec:
    """GET /vector_stores (newest first)."""
    return RequestSpec("GET", "vector_stores", params={"limit": LIST_PAGE_SIZE}, response=VectorStore, listing=True)


def retrieve_vector_store(vector_store_id: str) -> RequestSpec:
    """
    GET /vector_stores/{vector_store_id}.

    :param vector_store_id: the store id.
    """
    return RequestSpec("GET", f"vector_stores/{segment(vector_store_id)}", response=VectorStore)


def delete_vector_store(vector_store_id: str) -> RequestSpec:
    """
    DELETE /vector_stores/{vector_store_id}.

    :param vector_store_id: the store id.
    """
    return RequestSpec("DELETE", f"vector_stores/{segment(vector_store_id)}", response=Deletion)


def list_store_files(vector_store_id: str) -> RequestSpec:
    """
    GET /vector_stores/{vector_store_id}/files (every status).

    :param vector_store_id: the store id.
    """
    return RequestSpec(
        "GET",
        f"vector_stores/{segment(vector_store_id)}/files",
        params={"limit": LIST_PAGE_SIZE},
        response=VectorStoreFile,
        listing=True,
    )


def delete_store_file(vector_store_id: str, file_id: str) -> RequestSpec:
    """
    DELETE /vector_stores/{vector_store_id}/files/{file_id} (the uploaded file itself stays).

    :param vector_store_id: the store id.
    :param file_id: the file id.
    """
    return RequestSpec(
        "DELETE", f"vector_stores/{segment(vector_store_id)}/files/{segment(file_id)}", response=Deletion
    )


def create_file_batch(vector_store_id: str, body: CreateFileBatchRequest) -> RequestSpec:
    """
    POST /vector_stores/{vector_store_id}/file_batches.

    :param vector_store_id: the store id.
    :param body: the validated request.
    """
    return RequestSpec(
        "POST",
        f"vector_stores/{segment(vector_store_id)}/file_batches",
        json=body.model_dump(mode="json", exclude_none=True),
        response=FileBatch,
    )


def _batch_path(job_id: str) -> str:
    """A file batch is followed as ``<store id>/<batch id>``: its calls need both."""
    vector_store_id, _, batch_id = job_id.rpartition("/")
    return f"vector_stores/{segment(vector_store_id)}/file_batches/{segment(batch_id)}"


def batch_job_id(vector_store_id: str, batch_id: str) -> str:
    """
    The id a file batch is waited for by (see :class:`FileBatches`).

    :param vector_store_id: the store id.
    :param batch_id: the batch id.
    """
    return f"{vector_store_id}/{batch_id}"


def list_batch_files(job_id: str, status: str | None = None) -> RequestSpec:
    """
    GET /vector_stores/{vector_store_id}/file_batches/{batch_id}/files.

    :param job_id: the batch as :func:`batch_job_id` names it.
    :param status: only files in this status (``failed``, ...).
    """
    params = {"limit": LIST_PAGE_SIZE, "filter": status}
    return RequestSpec("GET", f"{_batch_path(job_id)}/files", params=params, response=VectorStoreFile, listing=True)


def search(vector_store_id: str, body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /vector_stores/{vector_store_id}/search.

    :param vector_store_id: the store id.
    :param body: the validated request body.
    """
    return RequestSpec(
        "POST", f"vector_stores/{segment(vector_store_id)}/search", json=dict(body), response=SearchResults
    )


class FileBatches(JobKind):
    """Vector-store file batches: in_progress, then completed, failed or cancelled; each look logs the counts."""

    noun = "vector-store file batch"
    terminal = ("completed", "failed", "cancelled")
    default_timeout = wait_defaults.FILE_BATCH_TIMEOUT

    def retrieve(self, job_id: str) -> RequestSpec:
        return RequestSpec("GET", _batch_path(job_id), response=FileBatch)

    def cancel(self, job_id: str) -> RequestSpec:
        return RequestSpec("POST", f"{_batch_path(job_id)}/cancel", response=FileBatch)

    def look(self, job_id: str, cursor: Any) -> Look:
        batch = yield self.retrieve(job_id)
        counts = batch.get("file_counts") or {}
        line = ", ".join(
            f"{counts.get(name, 0)} {name}" for name in ("completed", "failed", "in_progress", "cancelled")
        )
        total = counts.get("total")
        of = files_count(total) if isinstance(total, int) else "? files"
        return batch, [("info", f"{line} of {of}")], cursor

    def outcome(self, job: Mapping[str, Any], on_cancelled: str) -> Any:
        if job["status"] == "cancelled":
            raise JobFailedError("Vector-store file batch", str(job.get("id")), "cancelled")
        return dict(job)


FILE_BATCHES = FileBatches()


def is_managed(attributes: Mapping[str, Any] | None) -> bool:
    """
    Whether a store file (by its ``attributes``) or a store (by its ``metadata``) carries the provider's mark.

    :param attributes: the store file's attributes, or the store's metadata.
    """
    return isinstance(attributes, Mapping) and attributes.get(OWNER_KEY) == OWNER


class SyncPlan(NamedTuple):
    """
    What a sync does: the names to add (new or changed), the store files to remove, the names left as they are,
    and the store files it must not touch.

    :param add: names of the wanted files not in the store with the same content.
    :param remove: marked store files that no wanted file matches (stale, or an older version of a changed file).
    :param unchanged: ``(name, file id)`` of the wanted files already there with the same content.
    :param replaced: name → file id among ``remove`` that is the older version of a file in ``add`` (kept if the
        new version fails).
    :param unmanaged: store files without the provider's mark and not wanted by id: left alone.
    """

    add: list[str]
    remove: list[dict[str, Any]]
    unchanged: list[tuple[str, str]]
    replaced: dict[str, str]
    unmanaged: list[dict[str, Any]]


def plan_sync(wanted: Mapping[str, str], present: Iterable[Mapping[str, Any]]) -> SyncPlan:
    """
    Compare the wanted files (name → content hash; a file id given as such is its own name and hash) with the
    store's files. Only files carrying the provider's mark (set on the files it uploaded, with their name and
    hash) are compared by name, replaced or removed; a file given by id is kept while it is wanted and left alone
    once it is not; any other file is reported as unmanaged and never touched.

    :param wanted: name → content hash of every file the store should hold.
    :param present: the store's file objects.
    """
    unchanged: dict[str, str] = {}
    remove: list[dict[str, Any]] = []
    replaced: dict[str, str] = {}
    unmanaged: list[dict[str, Any]] = []
    for store_file in present:
        attributes = store_file.get("attributes") or {}
        file_id = str(store_file.get("id"))
        usable = store_file.get("status") in ("completed", "in_progress")
        if wanted.get(file_id) == file_id:
            if usable:
                unchanged[file_id] = file_id
            continue
        if not is_managed(attributes):
            unmanaged.append(dict(store_file))
            continue
        name, content = attributes.get(NAME_ATTRIBUTE), attributes.get(HASH_ATTRIBUTE)
        if isinstance(name, str) and name in wanted and wanted[name] == content and usable and name not in unchanged:
            unchanged[name] = file_id
            continue
        remove.append(dict(store_file))
        if isinstance(name, str) and name in wanted:
            replaced.setdefault(name, file_id)
    add = [name for name in wanted if name not in unchanged]
    replaced = {name: file_id for name, file_id in replaced.items() if name in add}
    return SyncPlan(add, remove, sorted(unchanged.items()), replaced, unmanaged)

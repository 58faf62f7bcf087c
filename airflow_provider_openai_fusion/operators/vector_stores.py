"""Vector stores: create, get, list, delete; add files as one file batch; sync a store to a set of files; search."""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import Context, conf

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

if TYPE_CHECKING:
    from airflow_provider_openai_fusion._waiting import Watch
    from airflow_provider_openai_fusion.operators._vector_store_record import FileBatchRecord

ACTIONS = ("create", "get", "list", "delete", "add_files", "sync", "search")
_ARGUMENTS = ("vector_store_id", "name", "files", "query", "max_num_results", "filters", "limit", "advanced")
_USED_BY = {
    "create": {"name", "advanced"},
    "get": {"vector_store_id", "name"},
    "list": {"limit"},
    "delete": {"vector_store_id", "name"},
    "add_files": {"vector_store_id", "name", "files", "advanced"},
    "sync": {"vector_store_id", "name", "files", "advanced"},
    "search": {"vector_store_id", "name", "query", "max_num_results", "filters", "advanced"},
}
PURPOSE = "assistants"
# What add_files / sync did before deferring, kept in the task's XCom (which Airflow keeps across a deferral).
STATE_XCOM_KEY = "openai_fusion_vector_store_state"
_FILE_ID = re.compile(r"^file-[A-Za-z0-9_-]+$")


class OpenAIManageVectorStoresOperator(OpenAIFusionBaseOperator):
    """
    Manage vector stores (the indexes the ``file_search`` tool searches) and the files in them.

    ``add_files`` uploads the local or ``ObjectStoragePath`` files (file ids are taken as they are), attaches
    them to the store as one file batch with their name, SHA-256 and the provider's mark (``managed_by``) in the
    file ``attributes``, waits until the batch settles and reports the files that failed with their errors.
    ``sync`` makes the store hold ``files``: new files and files whose content changed are added, files it
    uploaded earlier and no longer given are removed (the vector-store file and the uploaded file), unchanged
    ones are not touched, so a nightly re-index costs only what changed; a changed file whose new version fails
    keeps its older version. A ``name`` that no store has yet creates the store (for ``add_files`` and ``sync``)
    with the provider's mark in its ``metadata``.

    Ownership: ``sync`` detaches and deletes only files the provider uploaded itself (those with its mark). A
    file given by id is attached but never detached or deleted; a file without the mark (attached by someone
    else) is left alone and listed under ``unmanaged``. A store found by ``name`` must carry the provider's
    mark before ``sync`` changes it; to sync a store created otherwise, pass its ``vector_store_id``.

    :param action: ``create``, ``get``, ``list``, ``delete``, ``add_files``, ``sync`` or ``search``. (templated)
    :param vector_store_id: the store's id. (templated)
    :param name: the store's name: for ``create``, and instead of ``vector_store_id`` elsewhere. (templated)
    :param files: local paths, ``ObjectStoragePath`` URIs or file ids (``file-...``), for ``add_files`` and
        ``sync``; files are named by their base name, which must be unique for ``sync``. (templated)
    :param query: the search text (or a list of texts), for ``search``. (templated)
    :param max_num_results: the most results of ``search`` (1-50).
    :param filters: an attribute filter of ``search``, e.g. ``{"type": "eq", "key": "filename", "value":
        "a.md"}``. (templated)
    :param fail_on_file_errors: fail the task when files of the batch failed (after reporting them all).
    :param deferrable: wait for the file batch in the triggerer instead of a worker slot.
    :param poll_interval: seconds between checks of the file batch. The wait gives up after the task's
        ``execution_timeout``, else after an hour, failing with the file batch's last status.
    :param limit: for ``list``: return at most this many stores.
    :param advanced: other request fields: of the store (``create``: ``expires_after``, ``chunking_strategy``,
        ``metadata``), of each file of the batch (``add_files``/``sync``: ``chunking_strategy``), of the search
        (``rewrite_query``, ``ranking_options``). (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``create``/``get``: the store; ``list``: a list of stores; ``delete``: the deletion object;
        ``add_files``/``sync``: ``{"vector_store_id", "added", "changed", "removed", "unchanged", "failed",
        "unmanaged"}`` (lists of ``{"filename", "file_id"}``; changed ones with the ``replaced_file_id`` of their
        older version, failed ones with their ``error``); ``search``: the list of results.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "action",
        "vector_store_id",
        "name",
        "files",
        "query",
        "filters",
        "advanced",
    )
    template_fields_renderers = {"filters": "json", "advanced": "json"}

    def __init__(
        self,
        *,
        action: str,
        vector_store_id: str | None = None,
        name: str | None = None,
        files: list[str] | str | None = None,
        query: str | list[str] | None = None,
        max_num_results: int | None = None,
        filters: dict[str, Any] | str | None = None,
        fail_on_file_errors: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 5.0,
        limit: int | None = None,
        advanced: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.vector_store_id = vector_store_id
        self.name = name
        self.files = files
        self.query = query
        self.max_num_results = max_num_results
        self.filters = filters
        self.fail_on_file_errors = fail_on_file_errors
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.limit = limit
        self.advanced = advanced

    def execute(self, context: Context) -> Any:
        from airflow_provider_openai_fusion.api import vector_stores as api

        action = self._check_arguments()
        if action == "list":
            stores = self.hook.paginate(api.list_vector_stores(), self.limit)
            self.log.info("%d vector stores", len(stores))
            return stores
        if action == "create":
            return self._create(self.advanced)
        if action == "search":
            body = self._search_body()
            results = self.hook.request(api.search(self._store_id(action), body))["data"]
            self.log.info("%d results for %r", len(results), body["query"])
            return results
        if action in ("add_files", "sync"):
            return self._attach(context, action)
        store_id = self._store_id(action)
        if action == "get":
            return self.hook.request(api.retrieve_vector_store(store_id))
        deleted = self.hook.request(api.delete_vector_store(store_id))
        self.log.info("Deleted vector store %s: %s", store_id, deleted.get("deleted"))
        return deleted

    def _check_arguments(self) -> str:
        from airflow_provider_openai_fusion.api._base import (
            choice,
            identifier,
            json_list,
            positive_int,
            positive_number,
            required,
        )

        action = choice("action", self.action, ACTIONS)
        because = f"action={action!r}"
        for argument in _ARGUMENTS:
            if getattr(self, argument) not in (None, "") and argument not in _USED_BY[action]:
                raise InvalidArgumentError(argument, f"does not apply to {because}")
        if action not in ("create", "list"):
            if self.vector_store_id and self.name:
                raise InvalidArgumentError("name", "give either vector_store_id or name, not both")
            if not self.vector_store_id:
                required("vector_store_id", self.name, f"{because} (or a name)")
        if self.vector_store_id:
            self.vector_store_id = identifier("vector_store_id", self.vector_store_id, "a vector store id (vs_...)")
        if action in ("add_files", "sync"):
            entries = json_list(required("files", self.files, because), "files")
            entries = [entries] if isinstance(entries, str) else entries
            if not isinstance(entries, list) or not all(isinstance(e, str | Path) and str(e).strip() for e in entries):
                raise InvalidArgumentError("files", "must be a list of local paths, URIs or file ids")
            self.files = [str(entry).strip() for entry in entries]
        if action == "search":
            required("query", self.query, because)
        self.limit = positive_int("limit", self.limit)
        self.poll_interval = positive_number("poll_interval", self.poll_interval)
        return action

    def _search_body(self) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import json_object, positive_int, request_body, text_or_list
        from airflow_provider_openai_fusion.api.vector_stores import SearchRequest

        named = {
            "query": text_or_list(self.query),
            "max_num_results": positive_int("max_num_results", self.max_num_results),
            "filters": json_object(self.filters, "filters"),
        }
        return request_body(SearchRequest, named, self.advanced)

    def _create(self, advanced: Any = None) -> dict[str, Any]:
        """
        Create the store named ``name``, with the provider's mark in its metadata; ``advanced`` holds the other
        fields of ``action='create'``.
        """
        from airflow_provider_openai_fusion.api import vector_stores as api
        from airflow_provider_openai_fusion.api._base import request_body

        body = request_body(api.CreateVectorStoreRequest, {"name": self.name}, advanced)
        body["metadata"] = {**body.get("metadata", {}), api.OWNER_KEY: api.OWNER}
        store = self.hook.request(api.create_vector_store(body))
        self.log.info("Created vector store %s (%s)", store.get("id"), store.get("name"))
        return cast("dict[str, Any]", store)

    def _store_id(self, action: str) -> str:
        """
        The store's id: given, or found by name (created for add_files and sync when no store has the name); a
        store found by name for ``sync`` must carry the provider's mark.
        """
        from airflow_provider_openai_fusion.api import vector_stores as api

        if self.vector_store_id:
            return self.vector_store_id
        named = [store for store in self.hook.paginate(api.list_vector_stores()) if store.get("name") == self.name]
        if len(named) > 1:
            ids = ", ".join(str(store.get("id")) for store in named[:5])
            raise InvalidArgumentError(
                "name", f"{len(named)} vector stores are named {self.name!r} ({ids}); give one id"
            )
        if named:
            store_id = str(named[0]["id"])
            if action == "sync" and not api.is_managed(named[0].get("metadata")):
                raise InvalidArgumentError(
                    "name",
                    f"vector store {store_id} named {self.name!r} was not created by this provider (its metadata "
                    f"lacks {api.OWNER_KEY}={api.OWNER}), so sync will not change it; pass "
                    f"vector_store_id={store_id!r} to sync it anyway (files without the provider's mark stay)",
                )
            return store_id
        if action not in ("add_files", "sync"):
            raise InvalidArgumentError("name", f"no vector store is named {self.name!r}")
        return str(self._create()["id"])

    def _attach(self, context: Context, action: str) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api import vector_stores as api
        from airflow_provider_openai_fusion.operators._io import is_uri, local_input
        from airflow_provider_openai_fusion.operators._upload import check_upload, content_hash, delete_files
        from airflow_provider_openai_fusion.operators._vector_store_record import FileBatchRecord

        per_file = self._per_file_fields()
        with ExitStack() as stack:
            local: dict[str, Path] = {}
            ids: list[str] = []
            for entry in self.files:  # type: ignore[union-attr]
                if _FILE_ID.match(entry) and not is_uri(entry) and not Path(entry).exists():
                    ids.append(entry)
                    continue
                path = stack.enter_context(local_input("files", entry))
                check_upload("files", path, PURPOSE)
                if path.name in local:
                    raise InvalidArgumentError("files", f"two files are named {path.name!r}; files are known by name")
                local[path.name] = path
            hashes = {name: content_hash(path) for name, path in local.items()}
            wanted = {**hashes, **{file_id: file_id for file_id in ids}}
            store_id = self._store_id(action)
            request = {"action": action, "vector_store_id": store_id, "files": wanted, "per_file": per_file}
            mine = FileBatchRecord(context, request)
            if (resumed := self._recorded_batch(mine)) is not None:
                return self._wait(context, *resumed)
            if action == "sync":
                plan = api.plan_sync(wanted, self.hook.paginate(api.list_store_files(store_id)))
            else:
                plan = api.SyncPlan(list(wanted), [], [], {}, [])
            if len(plan.add) > api.MAX_BATCH_FILES:
                raise InvalidArgumentError(
                    "files", f"{len(plan.add)} files to add; a file batch takes at most {api.MAX_BATCH_FILES}"
                )
            added: list[dict[str, Any]] = []
            state: dict[str, Any] = {
                "vector_store_id": store_id,
                "added": added,
                "removed": [_entry(store_file) for store_file in plan.remove],
                "unchanged": [{"filename": name, "file_id": file_id} for name, file_id in plan.unchanged],
                "replaced": plan.replaced,
                "unmanaged": [_entry(store_file) for store_file in plan.unmanaged],
                "sync": action == "sync",
            }
            try:
                for name in plan.add:
                    added.append(self._upload(name, local.get(name), hashes.get(name), mine))
                batch = self._create_batch(store_id, added, per_file) if added else None
            except BaseException:
                delete_files(self.hook, [item["file_id"] for item in added if item["filename"]], self.log)
                raise
            if batch is not None:
                mine.keep_batch({**state, "batch_id": batch["id"]})
        files_count = api.files_count
        self.log.info(
            "Vector store %s: %s to add, %s to remove, %s unchanged, %s not created by this provider (left alone)",
            store_id,
            files_count(len(added)),
            files_count(len(state["removed"])),
            files_count(len(state["unchanged"])),
            files_count(len(state["unmanaged"])),
        )
        return self._settle(state, None) if batch is None else self._wait(context, state, batch)

    def _upload(self, name: str, path: Path | None, content: str | None, mine: FileBatchRecord) -> dict[str, Any]:
        """Upload a file (or reuse the one an earlier try of this task instance uploaded), recording it at once."""
        from airflow_provider_openai_fusion.api.files import retrieve_file
        from airflow_provider_openai_fusion.exceptions import NotFoundError
        from airflow_provider_openai_fusion.operators._upload import upload

        if path is None:
            return {"filename": None, "file_id": name}
        if (earlier := mine.earlier_upload(name, content)) is not None:
            try:
                found = self.hook.request(retrieve_file(earlier))
            except NotFoundError:
                found = {}
            if found.get("bytes") == path.stat().st_size:
                self.log.info("Using %s, uploaded as %s by an earlier try", name, earlier)
                return {"filename": name, "file_id": earlier, "sha256": content}
        uploaded = upload(self.hook, path, PURPOSE, self.log)
        mine.keep_upload(name, content, str(uploaded["id"]))
        self.log.info("Uploaded %s as %s", name, uploaded.get("id"))
        return {"filename": name, "file_id": uploaded["id"], "sha256": content}

    def _recorded_batch(self, mine: FileBatchRecord) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The file batch an earlier try of this task instance created for the same request, unless it ended badly."""
        from airflow_provider_openai_fusion.api.vector_stores import FILE_BATCHES, batch_job_id
        from airflow_provider_openai_fusion.exceptions import NotFoundError

        state = mine.state
        if not state or not state.get("batch_id"):
            return None
        try:
            batch = self.hook.request(FILE_BATCHES.retrieve(batch_job_id(state["vector_store_id"], state["batch_id"])))
        except NotFoundError:
            return None
        if batch.get("status") not in ("in_progress", "completed"):
            return None
        self.log.info("Re-attaching to file batch %s created by an earlier try", batch.get("id"))
        return state, batch

    def _per_file_fields(self) -> dict[str, Any]:
        """The fields ``advanced`` adds to each file of a batch (``chunking_strategy``), checked before anything."""
        from airflow_provider_openai_fusion.api._base import validate_request
        from airflow_provider_openai_fusion.api.vector_stores import StoreFile

        checked = validate_request(StoreFile, {"file_id": "file-check", "attributes": {}}, self.advanced)
        return checked.model_dump(exclude_none=True, exclude={"file_id", "attributes"})

    def _create_batch(self, store_id: str, added: list[dict[str, Any]], per_file: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api import vector_stores as api

        files = [
            api.StoreFile(
                file_id=item["file_id"],
                attributes={
                    api.NAME_ATTRIBUTE: item["filename"],
                    api.HASH_ATTRIBUTE: item["sha256"],
                    api.OWNER_KEY: api.OWNER,
                }
                if item["filename"]
                else None,
                **per_file,
            )
            for item in added
        ]
        batch = self.hook.request(api.create_file_batch(store_id, api.CreateFileBatchRequest(files=files)))
        count = api.files_count(len(files))
        self.log.info("Created file batch %s of %s in vector store %s", batch.get("id"), count, store_id)
        return cast("dict[str, Any]", batch)

    def _watch(self, job_id: str) -> Watch:
        from airflow_provider_openai_fusion._waiting import Watch
        from airflow_provider_openai_fusion.api.vector_stores import FILE_BATCHES

        return Watch(FILE_BATCHES, job_id, self.log)

    def _wait(self, context: Context, state: dict[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_openai_fusion._waiting import drive, event_for, finish, wait_deadline
        from airflow_provider_openai_fusion.api.vector_stores import FILE_BATCHES, batch_job_id

        job_id = batch_job_id(state["vector_store_id"], batch["id"])
        state["job_id"] = job_id
        deadline = wait_deadline(None, self.execution_timeout, FILE_BATCHES.default_timeout)
        watch = self._watch(job_id)
        if self.deferrable:
            batch = drive(watch.look(), self.hook.request)
            if not watch.done(batch):
                from airflow_provider_openai_fusion.triggers.vector_stores import OpenAIVectorStoreFileBatchTrigger

                trigger = OpenAIVectorStoreFileBatchTrigger(
                    job_id=job_id, conn_id=self.conn_id, poll_interval=self.poll_interval, deadline=deadline
                )
                context["ti"].xcom_push(key=STATE_XCOM_KEY, value=state)
                self.defer(trigger=trigger, method_name="execute_complete")
        else:
            batch = drive(watch.until_done(self.poll_interval, deadline), self.hook.request)
        return self._settle_once(context, state, finish(FILE_BATCHES, event_for(FILE_BATCHES, batch)))

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """
        Resume after the trigger: report the batch's failed files, finish a sync, return the summary.

        :param context: the task's context.
        :param event: the trigger's event.
        """
        from airflow.sdk.exceptions import AirflowException

        from airflow_provider_openai_fusion._waiting import finish, resumed
        from airflow_provider_openai_fusion.api.vector_stores import FILE_BATCHES

        ti = context["ti"]
        state = ti.xcom_pull(task_ids=ti.task_id, key=STATE_XCOM_KEY, map_indexes=ti.map_index)
        if not isinstance(state, dict):
            raise AirflowException(f"the state saved in XCom {STATE_XCOM_KEY!r} before deferring is missing")
        return self._settle_once(context, state, finish(FILE_BATCHES, resumed(FILE_BATCHES, event, self.hook.request)))

    def _settle_once(self, context: Context, state: dict[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
        """Settle a batch that ended, then forget it: a later try of this task instance starts afresh."""
        from airflow_provider_openai_fusion.operators._ownership import forget
        from airflow_provider_openai_fusion.operators._vector_store_record import STATE_KEY

        try:
            return self._settle(state, batch)
        finally:
            forget(context, STATE_KEY)

    def _settle(self, state: dict[str, Any], batch: dict[str, Any] | None) -> dict[str, Any]:
        """
        Collect the failed files, remove what a sync replaces (only files the provider uploaded), and fail the
        task on file errors if asked.
        """
        from airflow_provider_openai_fusion.api import vector_stores as api
        from airflow_provider_openai_fusion.exceptions import VectorStoreFileError

        store_id = state["vector_store_id"]
        errors: dict[str, Any] = {}
        if batch is not None and (batch.get("file_counts") or {}).get("failed", 1):
            failed_files = self.hook.paginate(api.list_batch_files(state["job_id"], "failed"))
            errors = {str(item["id"]): item.get("last_error") for item in failed_files}
        attached = [{"filename": i["filename"], "file_id": i["file_id"]} for i in state["added"]]
        failed = [{**item, "error": errors[item["file_id"]]} for item in attached if item["file_id"] in errors]
        replaced = state["replaced"]
        kept = {replaced.get(item["filename"]) for item in failed} - {None}
        removed = [item for item in state["removed"] if item["file_id"] not in kept]
        for item in failed:
            self.log.error("File %s (%s) failed: %s", item["filename"], item["file_id"], item["error"])
        ours = [item for item in failed if item["filename"]] if state["sync"] else []
        for item in removed + ours:
            self._remove(store_id, item["file_id"])
        succeeded = [item for item in attached if item["file_id"] not in errors]
        changed = [
            {**item, "replaced_file_id": replaced[item["filename"]]}
            for item in succeeded
            if item["filename"] in replaced
        ]
        summary = {
            "vector_store_id": store_id,
            "added": [item for item in succeeded if item["filename"] not in replaced],
            "changed": changed,
            "removed": [item for item in removed if item["file_id"] not in set(replaced.values())],
            "unchanged": state["unchanged"],
            "failed": failed,
            "unmanaged": state.get("unmanaged", []),
        }
        files_count = api.files_count
        self.log.info(
            "Vector store %s: %s added, %s changed, %s removed, %s unchanged, %s failed, %s left alone",
            store_id,
            *(files_count(len(summary[key])) for key in ("added", "changed", "removed", "unchanged", "failed")),
            files_count(len(summary["unmanaged"])),
        )
        if failed and self.fail_on_file_errors:
            raise VectorStoreFileError(store_id, failed)
        return summary

    def _remove(self, store_id: str, file_id: str) -> None:
        """Detach a file from the store and delete the uploaded file; one already gone counts as removed."""
        from airflow_provider_openai_fusion.api import files
        from airflow_provider_openai_fusion.api import vector_stores as api
        from airflow_provider_openai_fusion.exceptions import NotFoundError

        for spec in (api.delete_store_file(store_id, file_id), files.delete_file(file_id)):
            try:
                self.hook.request(spec)
            except NotFoundError:
                self.log.info("%s: already gone", spec.label)


def _entry(store_file: dict[str, Any]) -> dict[str, Any]:
    """A store file as the summary lists it: its name (from its attributes) and id."""
    from airflow_provider_openai_fusion.api.vector_stores import NAME_ATTRIBUTE

    attributes = store_file.get("attributes") or {}
    return {"filename": attributes.get(NAME_ATTRIBUTE), "file_id": str(store_file.get("id"))}

"""
Stand-in routes: /vector_stores (create, list, retrieve, delete), their files (list, delete), file batches
(create, retrieve, cancel, list files) and search.

A file batch moves one step per poll of GET .../file_batches/{id}: it is ``in_progress`` when created and at the
first two polls, and settles at the third (so a deferrable task finds it unfinished, and its trigger waits at
least one poll interval). Then each of its files is ``completed``, or ``failed`` with
``last_error.code`` ``invalid_file`` when its content holds the words ``FAIL-INDEXING`` (how a test asks for a
failing file); the batch is ``failed`` when all its files failed, else ``completed``. Search scores each
completed file by word overlap (the share of the query's words found in it) and applies ``filters`` to the
files' attributes (``eq``, ``ne``, ``gt``, ``gte``, ``lt``, ``lte``, ``in``, ``nin``, ``and``, ``or``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin.common import State, error, json_body, new_id, not_found, now, ok, state_of

FAIL_MARK = b"FAIL-INDEXING"
POLLS_TO_SETTLE = 3
STATUSES = ("in_progress", "completed", "failed", "cancelled")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda value, wanted: value in wanted,
    "nin": lambda value, wanted: value not in wanted,
}


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _page(items: list[dict[str, Any]], request: Request) -> Response:
    query = request.query_params
    if query.get("order", "desc") == "desc":
        items = list(reversed(items))
    if after := query.get("after"):
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    limit = int(query.get("limit") or 20) if (query.get("limit") or "20").isdigit() else 20
    page = items[: max(1, min(limit, 100))]
    first, last = (page[0]["id"], page[-1]["id"]) if page else ("", "")
    return ok({"object": "list", "data": page, "first_id": first, "last_id": last, "has_more": len(items) > len(page)})


def _settle(state: State, batch: dict[str, Any]) -> None:
    """Resolve a batch's files once it has been polled enough."""
    if batch["status"] != "in_progress" or batch["polls"] < POLLS_TO_SETTLE:
        return
    files = state.store_files.get(batch["vector_store_id"], {})
    for file_id in batch["file_ids"]:
        store_file = files.get(file_id)
        if store_file is None or store_file["status"] != "in_progress":
            continue
        if FAIL_MARK in state.contents.get(file_id, b""):
            store_file["status"] = "failed"
            message = "The file could not be indexed (its content asks the stand-in to fail it)."
            store_file["last_error"] = {"code": "invalid_file", "message": message}
        else:
            store_file["status"] = "completed"
            store_file["usage_bytes"] = len(state.contents.get(file_id, b""))
    statuses = [files[file_id]["status"] for file_id in batch["file_ids"] if file_id in files]
    batch["status"] = "failed" if statuses and all(s == "failed" for s in statuses) else "completed"


def _counts(store_files: list[dict[str, Any]]) -> dict[str, int]:
    counts = {status: sum(f["status"] == status for f in store_files) for status in STATUSES}
    return {**counts, "total": len(store_files)}


def _store_object(state: State, store: dict[str, Any]) -> dict[str, Any]:
    files = list(state.store_files.get(store["id"], {}).values())
    counts = _counts(files)
    status = "in_progress" if counts["in_progress"] else "completed"
    usage = sum(f["usage_bytes"] for f in files)
    return {**store, "status": status, "file_counts": counts, "usage_bytes": usage, "last_active_at": now()}


def _batch_object(state: State, batch: dict[str, Any]) -> dict[str, Any]:
    files = state.store_files.get(batch["vector_store_id"], {})
    counts = _counts([files[file_id] for file_id in batch["file_ids"] if file_id in files])
    return {k: v for k, v in batch.items() if k not in ("polls", "file_ids")} | {"file_counts": counts}


def _store(request: Request) -> dict[str, Any] | Response:
    store_id = request.path_params["vector_store_id"]
    store = state_of(request).vector_stores.get(store_id)
    return store if store is not None else not_found("vector_store", store_id, "vector_store_id")


async def create_store(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    state = state_of(request)
    store = {
        "id": new_id("vs_"),
        "object": "vector_store",
        "created_at": now(),
        "name": body.get("name") or "",
        "metadata": body.get("metadata") or {},
        "expires_at": None,
    }
    state.vector_stores[store["id"]] = store
    state.store_files[store["id"]] = {}
    for file_id in body.get("file_ids") or []:
        if file_id in state.files:
            state.store_files[store["id"]][file_id] = _store_file(store["id"], file_id, None, "completed")
    return ok(_store_object(state, store))


async def list_stores(request: Request) -> Response:
    state = state_of(request)
    return _page([_store_object(state, store) for store in state.vector_stores.values()], request)


async def retrieve_store(request: Request) -> Response:
    store = _store(request)
    return store if isinstance(store, Response) else ok(_store_object(state_of(request), store))


async def delete_store(request: Request) -> Response:
    store = _store(request)
    if isinstance(store, Response):
        return store
    state = state_of(request)
    state.vector_stores.pop(store["id"])
    state.store_files.pop(store["id"], None)
    return ok({"id": store["id"], "object": "vector_store.deleted", "deleted": True})


def _store_file(store_id: str, file_id: str, attributes: dict[str, Any] | None, status: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "vector_store.file",
        "usage_bytes": 0,
        "created_at": now(),
        "vector_store_id": store_id,
        "status": status,
        "last_error": None,
        "attributes": attributes or {},
        "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}},
    }


async def list_store_files(request: Request) -> Response:
    store = _store(request)
    if isinstance(store, Response):
        return store
    state = state_of(request)
    for batch in state.file_batches.values():
        if batch["vector_store_id"] == store["id"]:
            _settle(state, batch)
    wanted = request.query_params.get("filter")
    files = [f for f in state.store_files[store["id"]].values() if wanted in (None, f["status"])]
    return _page(files, request)


async def delete_store_file(request: Request) -> Response:
    store = _store(request)
    if isinstance(store, Response):
        return store
    file_id = request.path_params["file_id"]
    if state_of(request).store_files[store["id"]].pop(file_id, None) is None:
        return not_found("file", file_id, "file_id")
    return ok({"id": file_id, "object": "vector_store.file.deleted", "deleted": True})


async def create_batch(request: Request) -> Response:
    store = _store(request)
    if isinstance(store, Response):
        return store
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    state = state_of(request)
    entries = body.get("files") or [
        {"file_id": file_id, "attributes": body.get("attributes")} for file_id in body.get("file_ids") or []
    ]
    if not entries:
        return error(400, "Give file_ids or files.", type_="invalid_request_error", param="files")
    for entry in entries:
        if entry.get("file_id") not in state.files:
            return not_found("file", str(entry.get("file_id")), "files")
    for entry in entries:
        store_file = _store_file(store["id"], entry["file_id"], entry.get("attributes"), "in_progress")
        state.store_files[store["id"]][entry["file_id"]] = store_file
    batch = {
        "id": new_id("vsfb_"),
        "object": "vector_store.files_batch",
        "created_at": now(),
        "vector_store_id": store["id"],
        "status": "in_progress",
        "polls": 0,
        "file_ids": [entry["file_id"] for entry in entries],
    }
    state.file_batches[batch["id"]] = batch
    return ok(_batch_object(state, batch))


def _batch(request: Request) -> dict[str, Any] | Response:
    batch_id = request.path_params["batch_id"]
    batch = state_of(request).file_batches.get(batch_id)
    if batch is None or batch["vector_store_id"] != request.path_params["vector_store_id"]:
        return not_found("file_batch", batch_id, "batch_id")
    return batch


async def retrieve_batch(request: Request) -> Response:
    batch = _batch(request)
    if isinstance(batch, Response):
        return batch
    state = state_of(request)
    batch["polls"] += 1
    _settle(state, batch)
    return ok(_batch_object(state, batch))


async def cancel_batch(request: Request) -> Response:
    batch = _batch(request)
    if isinstance(batch, Response):
        return batch
    state = state_of(request)
    if batch["status"] == "in_progress":
        batch["status"] = "cancelled"
        for file_id in batch["file_ids"]:
            store_file = state.store_files.get(batch["vector_store_id"], {}).get(file_id)
            if store_file and store_file["status"] == "in_progress":
                store_file["status"] = "cancelled"
    return ok(_batch_object(state, batch))


async def list_batch_files(request: Request) -> Response:
    batch = _batch(request)
    if isinstance(batch, Response):
        return batch
    files = state_of(request).store_files.get(batch["vector_store_id"], {})
    wanted = request.query_params.get("filter")
    chosen = [files[i] for i in batch["file_ids"] if i in files and wanted in (None, files[i]["status"])]
    return _page(chosen, request)


def _matches(attributes: dict[str, Any], rule: dict[str, Any]) -> bool:
    if rule.get("type") in ("and", "or"):
        results = [_matches(attributes, inner) for inner in rule.get("filters") or []]
        return all(results) if rule["type"] == "and" else any(results)
    if rule.get("key") not in attributes:
        return False
    try:
        return _COMPARE[rule.get("type", "eq")](attributes[rule["key"]], rule.get("value"))
    except TypeError:
        return False


def search_store(state: State, store_id: str, queries: list[str], filters: Any, limit: int) -> list[dict[str, Any]]:
    """
    The results of a search over one store, best first: each completed file that ``filters`` accepts, scored by
    the share of the queries' words found in it (files scoring 0 are left out).

    :param state: the stand-in's state.
    :param store_id: the store.
    :param queries: the query texts.
    :param filters: an attribute filter, or ``None``.
    :param limit: the most results.
    """
    wanted = set().union(*(_words(text) for text in queries)) if queries else set()
    results = []
    for store_file in state.store_files.get(store_id, {}).values():
        attributes = store_file.get("attributes") or {}
        if store_file["status"] != "completed" or (filters and not _matches(attributes, filters)):
            continue
        text = state.contents.get(store_file["id"], b"").decode("utf-8", "replace")
        score = len(wanted & _words(text)) / len(wanted) if wanted else 0.0
        if score > 0:
            filename = state.files.get(store_file["id"], {}).get("filename", "")
            content = [{"type": "text", "text": text[:800]}]
            results.append(
                {
                    "file_id": store_file["id"],
                    "filename": filename,
                    "score": round(score, 4),
                    "attributes": attributes,
                    "content": content,
                }
            )
    results.sort(key=lambda item: -item["score"])
    return results[:limit]


async def search(request: Request) -> Response:
    store = _store(request)
    if isinstance(store, Response):
        return store
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    queries = body.get("query")
    queries = [queries] if isinstance(queries, str) else list(queries or [])
    page = search_store(
        state_of(request), store["id"], queries, body.get("filters"), int(body.get("max_num_results") or 10)
    )
    return ok(
        {
            "object": "vector_store.search_results.page",
            "search_query": queries,
            "data": page,
            "has_more": False,
            "next_page": None,
        }
    )


routes = [
    Route("/vector_stores", create_store, methods=["POST"]),
    Route("/vector_stores", list_stores, methods=["GET"]),
    Route("/vector_stores/{vector_store_id}", retrieve_store, methods=["GET"]),
    Route("/vector_stores/{vector_store_id}", delete_store, methods=["DELETE"]),
    Route("/vector_stores/{vector_store_id}/files", list_store_files, methods=["GET"]),
    Route("/vector_stores/{vector_store_id}/files/{file_id}", delete_store_file, methods=["DELETE"]),
    Route("/vector_stores/{vector_store_id}/file_batches", create_batch, methods=["POST"]),
    Route("/vector_stores/{vector_store_id}/file_batches/{batch_id}", retrieve_batch, methods=["GET"]),
    Route("/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel", cancel_batch, methods=["POST"]),
    Route("/vector_stores/{vector_store_id}/file_batches/{batch_id}/files", list_batch_files, methods=["GET"]),
    Route("/vector_stores/{vector_store_id}/search", search, methods=["POST"]),
]

"""
What the hook keeps of each call it made, for lineage and telemetry: the operation, the models, the ids of the
OpenAI objects the call read or made, the request and response ids and the token usage. Never prompt or answer
text, never a header value but the request id; a bounded number of records per hook.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_RECORDS = 10_000
"""The most calls a hook keeps (a bulk task of more keeps the first ones; :attr:`CallLog.dropped` counts the rest)."""

OPERATIONS: dict[str, str] = {
    "chat/completions": "chat",
    "completions": "text_completion",
    "responses": "chat",
    "embeddings": "embeddings",
}
"""The paths whose calls are OpenTelemetry GenAI operations, and their ``gen_ai.operation.name``."""

RESOURCES = frozenset(
    [
        "files",
        "batches",
        "fine_tuning",
        "jobs",
        "events",
        "checkpoints",
        "vector_stores",
        "file_batches",
        "uploads",
        "parts",
        "models",
        "responses",
        "input_items",
        "chat",
        "completions",
        "embeddings",
        "moderations",
        "images",
        "generations",
        "edits",
        "variations",
        "audio",
        "speech",
        "transcriptions",
        "translations",
        "organization",
        "costs",
        "usage",
    ]
)
"""Path words that name a resource; any other path word is an object id."""
ACTIONS = frozenset(("cancel", "complete", "content", "search", "input_tokens"))
"""Path words that name an action on a resource (the operation's verb)."""

REQUEST_FILE_FIELDS = ("input_file_id", "training_file", "validation_file", "file_id")
USAGE_FIELDS = ("input_tokens", "output_tokens", "total_tokens", "cached_tokens", "reasoning_tokens")


def operation_name(method: str, path: str) -> str:
    """
    The call's operation: a GenAI operation name (``chat``, ``text_completion``, ``embeddings``) for generation
    calls, else the API resource and verb, e.g. ``files.create``, ``batches.retrieve``, ``uploads.parts.create``.

    :param method: the HTTP method.
    :param path: the path relative to the base URL.
    """
    if generation := OPERATIONS.get(path):
        return generation
    parts = [part for part in path.split("/") if part]
    words = [part for part in parts if part in RESOURCES or part in ACTIONS]
    if words and words[-1] in ACTIONS:
        verb = words.pop()
    elif method == "GET":
        verb = "list" if parts and parts[-1] in RESOURCES else "retrieve"
    else:
        verb = {"POST": "create", "DELETE": "delete"}.get(method, method.lower())
    return ".".join([*words, verb])


def _ints(usage: Any) -> dict[str, int]:
    """The token counts of an answer's ``usage``, in one shape (``prompt_tokens`` counts as input)."""
    if not isinstance(usage, dict):
        return {}
    names = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}
    counts = {names.get(k, k): v for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}
    for detail, inner in (
        (("input_tokens_details", "prompt_tokens_details"), "cached_tokens"),
        (("output_tokens_details", "completion_tokens_details"), "reasoning_tokens"),
    ):
        for name in detail:
            value = usage.get(name)
            if isinstance(value, dict) and isinstance(value.get(inner), int):
                counts[inner] = value[inner]
    return {k: v for k, v in counts.items() if k in USAGE_FIELDS}


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def _read_ids(body: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The OpenAI objects a request body names: files it reads, vector stores it searches, a response it follows."""
    found = [("files", name) for key in REQUEST_FILE_FIELDS for name in _strings(body.get(key))]
    found += [("files", name) for name in _strings(body.get("file_ids"))]
    found += [("responses", name) for name in _strings(body.get("previous_response_id"))]
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("type") == "file_search":
            found += [("vector_stores", name) for name in _strings(tool.get("vector_store_ids"))]
    return tuple(found)


def _path_ids(method: str, path: str) -> tuple[tuple[str, str], ...]:
    """Objects a path reads: a file's content, a vector store searched or looked at (its files, its batches)."""
    parts = path.split("/")
    if method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
        return (("files", parts[1]),)
    if len(parts) == 3 and parts[0] == "vector_stores" and parts[2] == "search":
        return (("vector_stores", parts[1]),)
    if method == "GET" and len(parts) >= 2 and parts[0] == "vector_stores":
        return (("vector_stores", parts[1]),)
    return ()


MADE = {
    "file": "files",
    "batch": "batches",
    "fine_tuning.job": "fine_tuning/jobs",
    "vector_store": "vector_stores",
}


def _made_ids(method: str, request: Mapping[str, Any], answer: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The OpenAI objects an answer shows the call made (or that a finished job made)."""
    kind, ident = answer.get("object"), answer.get("id")
    found: list[tuple[str, str]] = []
    if method == "POST" and isinstance(ident, str) and kind in MADE:
        found.append((MADE[kind], ident))
    if kind == "upload" and isinstance(answer.get("file"), dict) and answer.get("status") == "completed":
        found += [("files", name) for name in _strings(answer["file"].get("id"))]
    if kind in ("vector_store.file", "vector_store.files_batch", "vector_store.file_batch") and method == "POST":
        found += [("vector_stores", name) for name in _strings(answer.get("vector_store_id"))]
    if kind == "response" and request.get("background") is True and isinstance(ident, str):
        found.append(("responses", ident))
    if kind == "fine_tuning.job" and answer.get("status") == "succeeded":
        found += [("models", name) for name in _strings(answer.get("fine_tuned_model"))]
    return tuple(found)


def _job_reads(answer: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The files a job read, as its object names them (a training file, a batch's input file)."""
    if answer.get("object") == "fine_tuning.job":
        return tuple(
            ("files", name) for key in ("training_file", "validation_file") for name in _strings(answer.get(key))
        )
    if answer.get("object") == "batch":
        return tuple(("files", name) for name in _strings(answer.get("input_file_id")))
    return ()


def waited_for(record: CallRecord) -> tuple[str, str] | None:
    """
    The object a task resumed after deferring had been waiting for, as its re-read shows it: the batch, the
    fine-tuning job, or the vector store of a file batch (the task made it before deferring, in another process).

    :param record: a call of the resumed try.
    """
    parts = record.path.split("/")
    if record.operation == "batches.retrieve" and len(parts) == 2:
        return ("batches", parts[1])
    if record.operation == "fine_tuning.jobs.retrieve" and len(parts) == 3:
        return ("fine_tuning/jobs", parts[2])
    if record.operation == "vector_stores.file_batches.retrieve" and len(parts) == 4:
        return ("vector_stores", parts[1])
    return None


@dataclass(frozen=True)
class CallRecord:
    """
    One call as lineage and telemetry see it.

    :param operation: :func:`operation_name` of the call.
    :param method: the HTTP method.
    :param path: the path relative to the base URL.
    :param status_code: the answer's HTTP status; ``None`` when the call failed without an answer.
    :param request_model: the ``model`` the request named.
    :param response_model: the ``model`` the answer named.
    :param request_id: the answer's ``x-request-id``.
    :param response_id: the answer's ``id``.
    :param service_tier: the ``service_tier`` the answer (or else the request) named.
    :param usage: the answer's token counts (``input_tokens``, ``output_tokens``, ``total_tokens``,
        ``cached_tokens``, ``reasoning_tokens``).
    :param read: ``(kind, id)`` of the OpenAI objects the call read, e.g. ``("files", "file-abc")``.
    :param made: ``(kind, id)`` of the OpenAI objects the call made.
    :param error_type: the exception class name of a failed call.
    """

    operation: str
    method: str
    path: str
    status_code: int | None = None
    request_model: str | None = None
    response_model: str | None = None
    request_id: str | None = None
    response_id: str | None = None
    service_tier: str | None = None
    usage: Mapping[str, int] = field(default_factory=dict)
    read: tuple[tuple[str, str], ...] = ()
    made: tuple[tuple[str, str], ...] = ()
    error_type: str | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def request_fields(method: str, path: str, json: Any, data: Any) -> dict[str, Any]:
    """
    What a record keeps of a request before it is sent: operation, model, tier, the objects it reads.

    :param method: the HTTP method.
    :param path: the path relative to the base URL.
    :param json: the JSON body.
    :param data: the form fields of a multipart body.
    """
    body = json if isinstance(json, dict) else data if isinstance(data, dict) else {}
    return {
        "operation": operation_name(method, path),
        "method": method,
        "path": path,
        "request_model": _text(body.get("model")),
        "service_tier": _text(body.get("service_tier")),
        "read": _read_ids(body) + _path_ids(method, path),
    }


def answer_fields(
    method: str, request_body: Any, status_code: int, headers: Mapping[str, str], body: Any
) -> dict[str, Any]:
    """
    What a record keeps of an answer: status, request id, model, tier and usage, and for a JSON object (not a list
    page, whose items are not this call's work) its id and the objects it shows made.

    :param method: the HTTP method.
    :param request_body: the request's JSON body (or form fields).
    :param status_code: the HTTP status.
    :param headers: the answer's headers.
    :param body: the decoded answer.
    """
    fields: dict[str, Any] = {"status_code": status_code, "request_id": headers.get("x-request-id")}
    if not isinstance(body, dict):
        return fields
    fields.update(response_model=_text(body.get("model")), usage=_ints(body.get("usage")))
    if _text(body.get("service_tier")):
        fields["service_tier"] = body["service_tier"]
    if body.get("object") != "list":
        request = request_body if isinstance(request_body, dict) else {}
        fields.update(response_id=_text(body.get("id")), made=_made_ids(method, request, body), read=_job_reads(body))
    return fields


class CallLog:
    """
    The records of one hook's calls, in the order they ended; at most :data:`MAX_RECORDS`. Thread-safe (the
    large-upload parts finish on several threads).
    """

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()
        self.dropped = 0
        self.resumed = False
        """Whether the calls are those of a try resumed after deferring (see :func:`waited_for`)."""

    def add(self, record: CallRecord) -> None:
        """
        Keep ``record``, or count it as dropped once the log is full.

        :param record: the call.
        """
        with self._lock:
            if len(self._records) < MAX_RECORDS:
                self._records.append(record)
            else:
                self.dropped += 1

    @property
    def calls(self) -> int:
        """How many calls were made (kept or dropped)."""
        return len(self._records) + self.dropped

    def __iter__(self) -> Iterator[CallRecord]:
        with self._lock:
            return iter(list(self._records))

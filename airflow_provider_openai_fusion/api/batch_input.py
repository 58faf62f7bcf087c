"""
The request lines of a batch: each body validated with the endpoint's own request schema (so an error names the
request's index and the field), custom ids assigned when missing and duplicates refused, and the lines written as
OpenAI's batch input JSONL, split into several files past the API's limits (50,000 requests, 200 MB, and 50,000
embedding inputs a batch).

Custom ids are assigned from the request's index (``request-<index>``), so preparing the same input twice gives the
same files byte for byte: a deferred or retried task prepares them again and finds the batches it submitted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError, field_validator

from airflow_provider_openai_fusion.api.responses import CreateResponseRequest
from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1000 * 1000
MAX_EMBEDDING_INPUTS = 50_000
MAX_EMBEDDING_INPUTS_PER_REQUEST = 2048
MAX_CUSTOM_ID = 512
PAIR_KEYS = frozenset({"custom_id", "body", "method", "url"})


class ResponsesBatchRequest(CreateResponseRequest):
    """
    POST /responses in a batch, validated as the Responses operator validates it, except that tools the caller
    runs itself (``function``, ...) are allowed: in a batch their calls are simply results.
    """

    @field_validator("tools")
    @classmethod
    def _no_client_tools(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        return value


def request_schema(endpoint: str) -> type[BaseModel]:
    """
    The request schema the endpoint's own operator validates its body with.

    :param endpoint: one of :data:`~airflow_provider_openai_fusion.api.batches.ENDPOINTS`.
    """
    if endpoint == "/v1/chat/completions":
        from airflow_provider_openai_fusion.api.chat import ChatCompletionRequest

        return ChatCompletionRequest
    if endpoint == "/v1/embeddings":
        from airflow_provider_openai_fusion.api.embeddings import EmbeddingsRequest

        return EmbeddingsRequest
    if endpoint == "/v1/completions":
        from airflow_provider_openai_fusion.api.completions import CompletionRequest

        return CompletionRequest
    if endpoint == "/v1/moderations":
        from airflow_provider_openai_fusion.api.moderations import ModerationRequest

        return ModerationRequest
    return ResponsesBatchRequest


@dataclass
class Part:
    """
    One batch input file: its path, the custom ids of its lines in order, its size and a digest of its bytes.

    :param path: the JSONL file.
    :param custom_ids: the custom ids, in input order.
    :param size: its size in bytes.
    :param digest: the first 16 hex digits of its SHA-256 (names the content in the batch's metadata).
    """

    path: Path
    custom_ids: list[str] = field(default_factory=list)
    size: int = 0
    digest: str = ""


def _field_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "the body"
    if error["type"] == "extra_forbidden":
        return f"body.{where}: not a field of this request"
    return f"body.{where}: {error['msg']}"


def request_items(requests: Any, argument: str = "requests") -> Iterator[tuple[str, Any]]:
    """
    The requests of the ``requests`` argument as ``(where, item)``: a body, or a ``{"custom_id", "body"}`` pair.

    :param requests: a list (or JSON text of a list) of bodies or pairs.
    :param argument: the argument's name, for the error.
    """
    from airflow_provider_openai_fusion.api._base import json_list

    items = json_list(requests, argument)
    if not isinstance(items, list) or not items:
        raise InvalidArgumentError(argument, "must be a non-empty list of request bodies or {custom_id, body} pairs")
    for index, item in enumerate(items):
        yield f"{argument}[{index}]", item


def jsonl_items(path: Path, endpoint: str, argument: str = "input_path") -> Iterator[tuple[str, Any]]:
    """
    The request lines of a batch input file as ``(where, item)``, each checked for OpenAI's line format.

    :param path: the JSONL file (``{"custom_id", "method": "POST", "url", "body"}`` per line).
    :param endpoint: the batch's endpoint, which every line's ``url`` must name.
    :param argument: the argument's name, for the error.
    """
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            where = f"line {number}"
            try:
                item = json.loads(raw)
            except ValueError as exc:
                raise InvalidArgumentError(argument, f"{where} is not valid JSON: {exc}") from None
            if not isinstance(item, Mapping) or "body" not in item:
                raise InvalidArgumentError(argument, f"{where}: expected an object with 'custom_id' and 'body'")
            if extra := sorted(set(item) - PAIR_KEYS):
                raise InvalidArgumentError(argument, f"{where}: {extra[0]!r} is not a field of a batch input line")
            if item.get("method", "POST") != "POST":
                raise InvalidArgumentError(argument, f"{where}: method must be 'POST', got {item.get('method')!r}")
            if item.get("url", endpoint) != endpoint:
                raise InvalidArgumentError(
                    argument, f"{where}: url {item.get('url')!r} is not the batch's endpoint {endpoint!r}"
                )
            yield where, item


class _Writer:
    """Writes validated lines into parts, starting a new part before a line would pass a limit."""

    def __init__(self, folder: Path, max_requests: int, max_bytes: int, embeddings: bool) -> None:
        self.folder = folder
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.embeddings = embeddings
        self.parts: list[Part] = []
        self.inputs = 0
        self._handle: Any = None
        self._hash: Any = None

    def add(self, custom_id: str, line: bytes, inputs: int) -> None:
        part = self.parts[-1] if self.parts else None
        if (
            part is None
            or len(part.custom_ids) >= self.max_requests
            or part.size + len(line) > self.max_bytes
            or (self.embeddings and self.inputs + inputs > MAX_EMBEDDING_INPUTS)
        ):
            part = self._start()
        self._handle.write(line)
        self._hash.update(line)
        part.custom_ids.append(custom_id)
        part.size += len(line)
        self.inputs += inputs

    def _start(self) -> Part:
        self.close()
        part = Part(self.folder / f"batch-input-{len(self.parts):03d}.jsonl")
        self.parts.append(part)
        self._handle = part.path.open("wb")
        self._hash = hashlib.sha256()
        self.inputs = 0
        return part

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self.parts[-1].digest = self._hash.hexdigest()[:16]
            self._handle = None


def _pair(item: Any, where: str, argument: str, from_file: bool) -> tuple[Any, Any]:
    """The ``(custom_id, body)`` of one item."""
    if from_file or (isinstance(item, Mapping) and "body" in item and set(item) <= PAIR_KEYS):
        return item.get("custom_id"), item.get("body")
    if not isinstance(item, Mapping):
        raise InvalidArgumentError(argument, f"{where}: expected a request body (a dict), got {type(item).__name__}")
    return None, item


def write_parts(
    endpoint: str,
    items: Iterable[tuple[str, Any]],
    folder: Path,
    *,
    argument: str,
    from_file: bool = False,
    max_requests: int = MAX_REQUESTS,
    max_bytes: int = MAX_BYTES,
) -> list[Part]:
    """
    Validate each request and write the batch input files into ``folder``; return the parts in input order.

    :param endpoint: the batch's endpoint.
    :param items: ``(where, item)`` from :func:`request_items` or :func:`jsonl_items`.
    :param folder: where the files are written.
    :param argument: the operator argument the requests come from, for errors.
    :param from_file: the items are batch input lines (always pairs).
    :param max_requests: the most requests a batch.
    :param max_bytes: the most bytes a batch input file.
    """
    schema = request_schema(endpoint)
    embeddings = endpoint == "/v1/embeddings"
    writer = _Writer(folder, max_requests, max_bytes, embeddings)
    seen: set[str] = set()
    try:
        for index, (where, item) in enumerate(items):
            custom_id, body = _pair(item, where, argument, from_file)
            if custom_id is None:
                custom_id = f"request-{index}"
            if not isinstance(custom_id, str) or not custom_id or len(custom_id) > MAX_CUSTOM_ID:
                raise InvalidArgumentError(
                    argument, f"{where}: custom_id must be text of 1 to {MAX_CUSTOM_ID} characters, got {custom_id!r}"
                )
            if custom_id in seen:
                raise InvalidArgumentError(argument, f"{where}: custom_id {custom_id!r} is used twice")
            seen.add(custom_id)
            if not isinstance(body, Mapping):
                raise InvalidArgumentError(argument, f"{where}: body must be a JSON object")
            try:
                checked = schema.model_validate(body)
            except ValidationError as exc:
                raise InvalidArgumentError(argument, f"{where} ({custom_id}): {_field_error(exc)}") from None
            inputs = 1
            if embeddings:
                texts = getattr(checked, "input", None)
                inputs = len(texts) if isinstance(texts, list) else 1
                if inputs > MAX_EMBEDDING_INPUTS_PER_REQUEST:
                    raise InvalidArgumentError(
                        argument,
                        f"{where} ({custom_id}): body.input has {inputs} texts; "
                        f"a request takes at most {MAX_EMBEDDING_INPUTS_PER_REQUEST}",
                    )
            line = {"custom_id": custom_id, "method": "POST", "url": endpoint, "body": dict(body)}
            data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
            if len(data) > max_bytes:
                raise InvalidArgumentError(argument, f"{where} ({custom_id}) alone is larger than {max_bytes:,} bytes")
            writer.add(custom_id, data, inputs)
    finally:
        writer.close()
    if not writer.parts:
        raise InvalidArgumentError(argument, "holds no requests")
    return writer.parts

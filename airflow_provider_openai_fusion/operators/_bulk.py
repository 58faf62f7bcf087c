"""
Bulk mode of the chat and Responses operators: many short requests in one task, sent at the rate limit's speed.

The items (a list, or a JSON-lines file, local or an ``ObjectStoragePath`` URI) are validated whole before anything
is sent; then ``hook.bulk_each`` sends them, ``max_concurrency`` at a time, paced by the server's ``x-ratelimit-*``
limits (so that it has no reason to answer 429), and each answer is written to ``output_path`` in input order as
soon as the ones before it are in, with at most :data:`WINDOW_PER_SLOT` x ``max_concurrency`` items sent and not yet
written: memory holds that window, not the run.

Each output line has the Batch API's output shape, so one parser reads both: ``{"id", "custom_id",
"response": {"status_code", "request_id", "body"}, "error"}``, with ``response`` null and ``error``
``{"code", "message"}`` for an item that failed (``code`` ``not_sent`` for one never sent because an earlier failure
stopped the run under ``on_error="fail"``).

Beside the output, ``<output_path>.manifest.json`` records the digest of the requests and the counts. A retry of
the task whose requests have the same digest re-sends only the items that did not succeed (their successful lines
are copied from the earlier output); any other file at those paths is overwritten, never read as ours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from airflow_provider_openai_fusion._atomic import AtomicFile, write_atomically
from airflow_provider_openai_fusion._http.request import MAX_JSON_BYTES
from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

MAX_ITEMS = 100_000
MAX_ITEM_BYTES = 1 << 20
MAX_CONCURRENCY = 64
WINDOW_PER_SLOT = 32
ON_ERROR = ("fail", "record")
MANIFEST_SUFFIX = ".manifest.json"
MAX_MANIFEST_BYTES = 4096
MAX_LINE_BYTES = MAX_JSON_BYTES + 4096
"""The longest output line an earlier try can have written: an answer within the transport's cap, and its wrapper."""


@dataclass(frozen=True)
class Item:
    """
    One request of a bulk run.

    :param custom_id: the item's key, carried into its output line (``item-<index>`` unless the item names one).
    :param body: the validated request body.
    :param tokens: the tokens the rate limit counts for it (input estimate plus the output cap).
    """

    custom_id: str
    body: dict[str, Any]
    tokens: int


def bulk_requested(items: Any, items_path: Any) -> bool:
    """
    Whether the operator runs in bulk mode (either argument set).

    :param items: the ``items`` argument.
    :param items_path: the ``items_path`` argument.
    """
    return items is not None or items_path is not None


def _lines(items_path: Any) -> Iterator[tuple[int, Any]]:
    from airflow_provider_openai_fusion.operators._io import local_input

    with local_input("items_path", items_path) as path, path.open("rb") as handle:
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_ITEM_BYTES + 1), b""), start=1):
            if len(raw) > MAX_ITEM_BYTES:
                raise InvalidArgumentError("items_path", f"line {number} is longer than {MAX_ITEM_BYTES:,} bytes")
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw)
            except ValueError as exc:
                raise InvalidArgumentError("items_path", f"line {number} is not JSON: {exc}") from None


def _raw_items(items: Any, items_path: Any) -> Iterator[tuple[str, Any]]:
    """The items as given, each with where it came from (``items[3]`` or ``items_path line 4``)."""
    from airflow_provider_openai_fusion.api._base import json_list

    if (items is None) == (items_path is None):
        raise InvalidArgumentError("items", "give exactly one of items (a list) and items_path (a JSON-lines file)")
    if items is not None:
        values = json_list(items, "items")
        if not isinstance(values, list) or not values:
            raise InvalidArgumentError("items", "must be a non-empty list of texts or request objects")
        yield from ((f"items[{index}]", value) for index, value in enumerate(values))
    else:
        yield from ((f"items_path line {number}", value) for number, value in _lines(items_path))


def _estimate(body: dict[str, Any]) -> int:
    """Tokens for the rate limit: about 4 bytes of request per input token, plus the output cap."""
    cap = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("max_output_tokens") or 0
    return len(json.dumps(body, separators=(",", ":"))) // 4 + int(cap) * int(body.get("n") or 1)


def load_items(items: Any, items_path: Any, build: Callable[[Any], dict[str, Any]]) -> list[Item]:
    """
    Read and validate every item before anything is sent; an error names the item and the field.

    :param items: a list of items (texts or request objects), or JSON text of one; or ``None``.
    :param items_path: a JSON-lines file of items; or ``None``.
    :param build: turns one item (without its ``custom_id``) into a validated request body.
    """
    loaded: list[Item] = []
    seen: set[str] = set()
    for where, value in _raw_items(items, items_path):
        if len(loaded) >= MAX_ITEMS:
            raise InvalidArgumentError("items", f"holds more than {MAX_ITEMS:,} items; split the run")
        given = dict(value) if isinstance(value, dict) else value
        custom_id = given.pop("custom_id", None) if isinstance(given, dict) else None
        custom_id = f"item-{len(loaded)}" if custom_id is None else custom_id
        if not isinstance(custom_id, str) or not custom_id.strip() or custom_id in seen:
            raise InvalidArgumentError("items", f"{where}: custom_id must be unique, non-empty text, got {custom_id!r}")
        seen.add(custom_id)
        try:
            body = build(given)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError("items", f"{where} ({custom_id}): {exc.argument}: {exc.reason}") from None
        loaded.append(Item(custom_id, body, _estimate(body)))
    if not loaded:
        raise InvalidArgumentError("items_path", "holds no items")
    return loaded


def digest(items: Sequence[Item], path: str) -> str:
    """
    The digest of a run's requests: a retry reuses an earlier output only when it is the same.

    :param items: the run's items.
    :param path: the API path they go to.
    """
    hasher = hashlib.sha256(path.encode())
    for item in items:
        hasher.update(json.dumps([item.custom_id, item.body], sort_keys=True, separators=(",", ":")).encode())
    return hasher.hexdigest()


def _line(custom_id: str, index: int, answer: Any) -> dict[str, Any]:
    if isinstance(answer, BaseException):
        code = getattr(answer, "code", None) or type(answer).__name__
        status = getattr(answer, "status_code", None)
        error = {"code": code, "message": str(answer)}
        response = None if status is None else {"status_code": status, "request_id": None, "body": None}
        return {"id": f"bulk_req_{index}", "custom_id": custom_id, "response": response, "error": error}
    response = {"status_code": 200, "request_id": None, "body": answer}
    return {"id": f"bulk_req_{index}", "custom_id": custom_id, "response": response, "error": None}


def _not_sent(custom_id: str, index: int) -> dict[str, Any]:
    error = {"code": "not_sent", "message": "not sent: an earlier item failed and on_error is 'fail'"}
    return {"id": f"bulk_req_{index}", "custom_id": custom_id, "response": None, "error": error}


class Earlier:
    """
    The successful lines of an earlier try, by custom id: where each lies in that try's output (kept open while
    the new output is written), not the lines themselves, so a retry of a large run holds offsets only.

    :param handle: the earlier output, open for reading; ``None`` when there is nothing to reuse.
    :param spans: each reusable line's custom id, offset and length (without its newline).
    """

    def __init__(self, handle: BinaryIO | None = None, spans: dict[str, tuple[int, int]] | None = None) -> None:
        self._handle = handle
        self._spans = spans or {}

    def __contains__(self, custom_id: str) -> bool:
        return custom_id in self._spans

    def line(self, custom_id: str) -> bytes:
        """
        The earlier line of ``custom_id``, read again from the earlier output.

        :param custom_id: a custom id this holds.
        """
        assert self._handle is not None
        offset, length = self._spans[custom_id]
        self._handle.seek(offset)
        return self._handle.read(length)


def _spans(handle: BinaryIO) -> dict[str, tuple[int, int]]:
    """The successful lines of an earlier output (read within :data:`MAX_LINE_BYTES`): custom id, offset, length."""
    spans: dict[str, tuple[int, int]] = {}
    offset = 0
    for raw in iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""):
        line = json.loads(raw)
        if isinstance(line, dict) and line.get("error") is None and isinstance(line.get("custom_id"), str):
            spans[line["custom_id"]] = (offset, len(raw.rstrip(b"\n")))
        offset += len(raw)
    return spans


@contextmanager
def _earlier(output_path: str, run_digest: str) -> Iterator[Earlier]:
    """
    The successful lines of an earlier try with the same requests; none when the manifest is missing, is for other
    requests, or anything in either file is not what this module writes.
    """
    from airflow_provider_openai_fusion.operators._io import is_uri, local_input

    manifest_path = f"{output_path}{MANIFEST_SUFFIX}"
    if not is_uri(manifest_path) and not Path(manifest_path).expanduser().is_file():
        yield Earlier()
        return
    with ExitStack() as stack:
        try:
            with local_input("output_path", manifest_path) as path, path.open("rb") as handle:
                manifest = json.loads(handle.read(MAX_MANIFEST_BYTES + 1))
            if not isinstance(manifest, dict) or manifest.get("digest") != run_digest:
                raise ValueError("another run's manifest")
            handle = stack.enter_context(stack.enter_context(local_input("output_path", output_path)).open("rb"))
            earlier = Earlier(handle, _spans(handle))
        except (OSError, ValueError, InvalidArgumentError):
            earlier = Earlier()
        yield earlier


@dataclass
class Outcome:
    """
    What a bulk run did.

    :param path: where the output was written.
    :param count: items in all.
    :param succeeded: items answered (sent now or kept from an earlier try).
    :param failed: items that failed.
    :param not_sent: items not sent, because a failure stopped the run (``on_error="fail"``).
    :param reused: successful items kept from an earlier try instead of being sent again.
    :param usage: the usage of the answers received now, summed per model (see :func:`add_usage`).
    :param first_error: the first failure, if any.
    """

    path: str
    count: int
    succeeded: int = 0
    failed: int = 0
    not_sent: int = 0
    reused: int = 0
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_error: BaseException | None = None

    def line(self, item: Item, index: int, earlier: Earlier, answer: Any) -> bytes:
        """
        The output line of one item, counted: kept from an earlier try, answered now, failed, or not sent.

        :param item: the item.
        :param index: its position.
        :param earlier: the successful lines of an earlier try.
        :param answer: its answer or provider error; ``None`` when nothing was sent for it.
        """
        if item.custom_id in earlier:
            self.succeeded += 1
            self.reused += 1
            return earlier.line(item.custom_id)
        line = _not_sent(item.custom_id, index) if answer is None else _line(item.custom_id, index, answer)
        if line["error"] is None:
            self.succeeded += 1
            add_usage(self.usage, answer)
        elif answer is None:
            self.not_sent += 1
        else:
            self.failed += 1
            if self.first_error is None:
                self.first_error = answer
        return json.dumps(line, separators=(",", ":")).encode()


def run(
    items: Sequence[Item],
    output_path: str,
    api_path: str,
    send_each: Callable[[Callable[[int], Item | None], Callable[[int, Any], None]], None],
) -> Outcome:
    """
    Send the items not already answered by an earlier try and write every line in input order as it comes in.

    :param items: the validated items.
    :param output_path: the output file (local path or URI).
    :param api_path: the API path, part of the digest.
    :param send_each: ``send_each(pick, emit)`` sends the item ``pick(index)`` gives for each index (``None``: send
        nothing) and hands each index's answer, provider error or ``None`` (nothing sent) to ``emit``, in order;
        under ``on_error="fail"`` it sends nothing more after a failure.
    """
    from airflow_provider_openai_fusion.operators._io import write_output

    run_digest = digest(items, api_path)
    outcome = Outcome(output_path, len(items))

    def write(path: Path) -> Path:
        target = AtomicFile(path)
        try:
            with _earlier(output_path, run_digest) as earlier:

                def pick(index: int) -> Item | None:
                    return None if items[index].custom_id in earlier else items[index]

                def emit(index: int, answer: Any) -> None:
                    target.handle.write(outcome.line(items[index], index, earlier, answer) + b"\n")

                send_each(pick, emit)
        except BaseException:
            target.discard()
            raise
        return target.commit()

    outcome.path = write_output("output_path", output_path, write)
    manifest = {"digest": run_digest, "count": outcome.count, "succeeded": outcome.succeeded}
    write_output("output_path", f"{output_path}{MANIFEST_SUFFIX}", lambda path: write_atomically(path, _json(manifest)))
    return outcome


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def add_usage(per_model: dict[str, dict[str, Any]], answer: Any) -> None:
    """
    Add an answer's usage to the sums per model: calls, token counts, and their ``*_details`` counts one level down.

    :param per_model: the sums so far, by model (``{"calls", "usage"}``), updated in place.
    :param answer: one JSON answer.
    """
    if not isinstance(answer, dict) or not isinstance(answer.get("usage"), dict):
        return
    total = per_model.setdefault(str(answer.get("model")), {"calls": 0, "usage": {}})
    total["calls"] += 1
    for name, value in answer["usage"].items():
        if isinstance(value, int) and not isinstance(value, bool):
            total["usage"][name] = total["usage"].get(name, 0) + value
        elif isinstance(value, dict):
            inner = total["usage"].setdefault(name, {})
            for key, count in value.items():
                if isinstance(count, int) and not isinstance(count, bool):
                    inner[key] = inner.get(key, 0) + count


def execute_bulk(
    operator: Any,
    build: Callable[[Any], dict[str, Any]],
    create: Callable[[dict[str, Any]], Any],
    estimate: Callable[[dict[str, Any]], Any],
    api_path: str,
) -> dict[str, Any]:
    """
    Run an operator's bulk mode and return its manifest: ``{"path", "count", "succeeded", "failed", "not_sent",
    "reused", "usage"}`` (usage summed per model). Under ``on_error="fail"`` a failed item fails the task after the
    output is written, so that its retry sends only what did not succeed.

    :param operator: the chat or Responses operator (``items``, ``items_path``, ``output_path``, ``on_error``,
        ``max_concurrency``, ``flex_fallback``).
    :param build: one item (a text or a request object) to its validated request body.
    :param create: a request body to its call (an ``api`` builder).
    :param estimate: a request body to its budget estimate (``_budget.chat`` or ``_budget.response``).
    :param api_path: the API path, part of the requests' digest.
    """
    from airflow_provider_openai_fusion.api._base import choice, positive_int, required
    from airflow_provider_openai_fusion.exceptions import OpenAIFusionError
    from airflow_provider_openai_fusion.operators._io import check_output, path_text

    output_path = path_text("output_path", required("output_path", operator.output_path, "bulk mode"))
    on_error = choice("on_error", operator.on_error, ON_ERROR)
    concurrency = positive_int("max_concurrency", operator.max_concurrency) or 1
    if concurrency > MAX_CONCURRENCY:
        raise InvalidArgumentError("max_concurrency", f"must be at most {MAX_CONCURRENCY}, got {concurrency}")
    if operator.flex_fallback:
        raise InvalidArgumentError("flex_fallback", "applies to single requests, not to bulk mode (items)")
    check_output("output_path", output_path)
    items = load_items(operator.items, operator.items_path, build)
    for model in sorted({str(item.body.get("model")) for item in items}):
        operator.check_model(model)
    operator.check_budget(lambda: [estimate(item.body) for item in items])
    hook = operator.hook
    operator.log.info("Sending %d requests, at most %d at a time, to %s", len(items), concurrency, output_path)

    def send_each(pick: Callable[[int], Item | None], emit: Callable[[int, Any], None]) -> None:
        def call(index: int) -> tuple[Any, int] | None:
            item = pick(index)
            return None if item is None else (create(item.body), item.tokens)

        window = concurrency * WINDOW_PER_SLOT
        stop = "stop" if on_error == "fail" else "record"
        hook.bulk_each(len(items), call, emit, concurrency, window=window, on_error=stop)

    outcome = run(items, output_path, api_path, send_each)
    usage = outcome.usage
    for model, total in usage.items():
        operator.log_usage({"model": model, "usage": total["usage"]}, calls=total["calls"])
    operator.log.info(
        "%d of %d items answered (%d kept from an earlier try), %d failed, %d not sent: %s",
        outcome.succeeded,
        outcome.count,
        outcome.reused,
        outcome.failed,
        outcome.not_sent,
        outcome.path,
    )
    if outcome.failed and on_error == "fail":
        raise OpenAIFusionError(
            f"{outcome.failed} of {outcome.count} items failed and {outcome.not_sent} were not sent (first failure: "
            f"{outcome.first_error}); their lines in {outcome.path} say why, and a retry of the task sends only "
            "them (on_error='record' finishes the task instead)"
        )
    manifest = {"path": outcome.path, "count": outcome.count, "succeeded": outcome.succeeded}
    counts = {"failed": outcome.failed, "not_sent": outcome.not_sent, "reused": outcome.reused}
    return {**manifest, **counts, "usage": usage}

"""
Stand-in routes: /batches (create, list newest first with ``after``, retrieve, cancel).

A batch is a state machine moved on by polls: each GET of it moves it one status on, validating -> in_progress
-> finalizing -> completed. Its input file (from the stand-in's files store, purpose ``batch``) is checked when it
leaves ``validating``: a line that is not JSON, repeats a custom_id, is not ``POST`` to the batch's endpoint, or
names a model the stand-in does not serve fails the batch, with one ``errors`` entry per bad line (code, message,
param, line). Every request is then answered by the stand-in's own route for its endpoint (called in process), so
the output file (2xx answers) and the error file (error answers) hold exactly what those routes answer; both are
written with their lines shuffled, as the API does not keep the input order.

Metadata ``{"standin": ...}`` asks for the other endings: ``expire`` (the first half of the requests run, the batch
expires: a quarter of the requests get ``batch_expired`` lines in the error file, the rest no line at all), ``hold``
(stays in_progress until cancelled), ``flaky-download`` (the first download of its output file answers 500). A
cancel moves a running batch to ``cancelling``, and the next poll to ``cancelled``, with the first third of the
requests answered. With webhooks configured (:mod:`.webhooks`), a batch also moves on by itself, and its ending
sends ``batch.completed``, ``batch.failed``, ``batch.expired`` or ``batch.cancelled``.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin.common import State, error, json_body, new_id, not_found, now, ok, state_of
from dev.standin.text import known_models
from dev.standin.webhooks import drive

ENDPOINTS = ("/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations")
FLOW = ("validating", "in_progress", "finalizing", "completed")
TERMINAL = ("completed", "failed", "expired", "cancelled")
DEFAULT_LIMIT = 20
WINDOW_SECONDS = 24 * 3600


@dataclass
class Batch:
    """
    One batch: its object (as the API shows it), its request lines, and what it was asked to do.

    :param fields: the batch object.
    :param lines: the parsed input lines (after validation).
    :param flaky_download: the first download of its output file still has to fail.
    :param lock: held while the batch moves on (a poll and the webhook driver may both move it).
    """

    fields: dict[str, Any]
    lines: list[dict[str, Any]] = field(default_factory=list)
    flaky_download: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def mode(self) -> str:
        return str((self.fields.get("metadata") or {}).get("standin", ""))


def _batches(state: State) -> dict[str, Batch]:
    return state.batches  # type: ignore[return-value]


def _validate(state: State, batch: Batch, known: set[str]) -> list[dict[str, Any]]:
    """The input file's bad lines as batch errors; the good lines are kept on the batch."""
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    content = state.contents.get(batch.fields["input_file_id"], b"").decode("utf-8", "replace")
    for number, text in enumerate(content.splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            line = None
        body = line.get("body") if isinstance(line, dict) else None
        problem: tuple[str, str, str | None] | None = None
        if not isinstance(body, dict):
            problem = ("invalid_json_line", "This line is not a JSON object with a 'body' object.", None)
        elif line.get("custom_id") in seen or not isinstance(line.get("custom_id"), str):
            problem = ("duplicate_custom_id", "The custom_id for this request is a duplicate or missing.", "custom_id")
        elif line.get("method") != "POST" or line.get("url") != batch.fields["endpoint"]:
            problem = ("invalid_url", f"The url must be {batch.fields['endpoint']} with method POST.", "url")
        elif body.get("model") is not None and body["model"] not in known:
            problem = ("model_not_found", f"The model '{body['model']}' does not exist.", "body.model")
        if problem:
            errors.append({"code": problem[0], "message": problem[1], "param": problem[2], "line": number})
            continue
        seen.add(line["custom_id"])
        batch.lines.append(line)
    if not batch.lines and not errors:
        errors.append({"code": "empty_file", "message": "The input file has no requests.", "param": None, "line": None})
    return errors


async def _answer(request: Request, line: dict[str, Any]) -> dict[str, Any]:
    """One request answered by the stand-in's own route, as a batch result line."""
    state = state_of(request)
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://standin") as client:
        answer = await client.post(
            line["url"].removeprefix("/v1"),
            json=line["body"],
            headers={"Authorization": f"Bearer {state.api_key}"},
        )
    request_id = answer.headers.get("x-request-id")
    response = {"status_code": answer.status_code, "request_id": request_id, "body": answer.json()}
    return {"id": new_id("batch_req_"), "custom_id": line["custom_id"], "response": response, "error": None}


def _store(state: State, batch: Batch, lines: list[dict[str, Any]], name: str) -> str:
    random.Random(f"{batch.fields['id']}{name}").shuffle(lines)
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    file_object = {
        "id": new_id("file-"),
        "object": "file",
        "bytes": len(content),
        "created_at": now(),
        "filename": f"{batch.fields['id']}_{name}.jsonl",
        "purpose": "batch_output",
        "status": "processed",
    }
    state.files[file_object["id"]] = file_object
    state.contents[file_object["id"]] = content
    return file_object["id"]


async def _run(request: Request, batch: Batch, count: int, never_ran: str | None) -> None:
    """Answer the first ``count`` requests; write the output and error files; fill the counts and usage."""
    state = state_of(request)
    results = [await _answer(request, line) for line in batch.lines[:count]]
    good = [line for line in results if line["response"]["status_code"] < 300]
    bad = [line for line in results if line["response"]["status_code"] >= 300]
    if never_ran:
        for line in batch.lines[count : count + (len(batch.lines) - count) // 2]:
            message = f"This request could not be executed before the batch was {never_ran.split('_')[1]}."
            bad.append(
                {
                    "id": new_id("batch_req_"),
                    "custom_id": line["custom_id"],
                    "response": None,
                    "error": {"code": never_ran, "message": message},
                }
            )
    usage = {"input_tokens": 0, "output_tokens": 0}
    for line in good:
        used = line["response"]["body"].get("usage") or {}
        usage["input_tokens"] += int(used.get("prompt_tokens", used.get("input_tokens", 0)) or 0)
        usage["output_tokens"] += int(used.get("completion_tokens", used.get("output_tokens", 0)) or 0)
    batch.fields["usage"] = {
        **usage,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage["input_tokens"] + usage["output_tokens"],
    }
    batch.fields["request_counts"] = {"total": len(batch.lines), "completed": len(good), "failed": len(bad)}
    if good:
        batch.fields["output_file_id"] = _store(state, batch, good, "output")
    if bad:
        batch.fields["error_file_id"] = _store(state, batch, bad, "error")


async def _advance(request: Request, batch: Batch) -> None:
    """Move the batch one status on (a poll, or the webhook driver); a batch that ends sends its webhook."""
    async with batch.lock:
        ended = batch.fields["status"] in TERMINAL
        await _step(request, batch)
    webhooks = state_of(request).webhooks
    if webhooks is not None and not ended and batch.fields["status"] in TERMINAL:
        webhooks.notify(f"batch.{batch.fields['status']}", batch.fields["id"])


async def _step(request: Request, batch: Batch) -> None:
    fields, status = batch.fields, batch.fields["status"]
    if status in TERMINAL:
        return
    if status == "cancelling":
        await _run(request, batch, len(batch.lines) // 3, None)
        fields.update(status="cancelled", cancelled_at=now())
        return
    if status == "validating":
        errors = _validate(state_of(request), batch, known_models(request))
        if errors:
            fields.update(status="failed", failed_at=now(), errors={"object": "list", "data": errors})
            return
        fields["request_counts"] = {"total": len(batch.lines), "completed": 0, "failed": 0}
        fields.update(status="in_progress", in_progress_at=now())
        return
    if status == "in_progress" and batch.mode == "hold":
        return
    if status == "in_progress" and batch.mode == "expire":
        await _run(request, batch, len(batch.lines) // 2, "batch_expired")
        fields.update(status="expired", expired_at=now())
        return
    if status == "in_progress":
        await _run(request, batch, len(batch.lines), None)
        fields.update(status="finalizing", finalizing_at=now())
        return
    fields.update(status="completed", completed_at=now())


async def create(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    state = state_of(request)
    file = state.files.get(body.get("input_file_id")) if isinstance(body.get("input_file_id"), str) else None
    if file is None:
        return error(400, f"Invalid input_file_id: {body.get('input_file_id')!r}", type_="invalid_request_error")
    if file.get("purpose") != "batch":
        message = f"File {file['id']} has purpose '{file.get('purpose')}'; a batch needs purpose 'batch'."
        return error(400, message, type_="invalid_request_error", param="input_file_id")
    if body.get("endpoint") not in ENDPOINTS:
        message = f"Invalid endpoint: {body.get('endpoint')!r}"
        return error(400, message, type_="invalid_request_error", param="endpoint")
    created = now()
    fields = {
        "id": new_id("batch_"),
        "object": "batch",
        "endpoint": body["endpoint"],
        "input_file_id": file["id"],
        "completion_window": body.get("completion_window", "24h"),
        "status": "validating",
        "created_at": created,
        "expires_at": created + WINDOW_SECONDS,
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
        "metadata": body.get("metadata"),
    }
    batch = Batch(fields)
    batch.flaky_download = batch.mode == "flaky-download"
    _batches(state)[fields["id"]] = batch
    if state.webhooks is not None:

        async def advance() -> bool:
            await _advance(request, batch)
            return batch.fields["status"] in TERMINAL

        drive(state.job_step_seconds, advance)
    return ok(fields)


def _batch_or_404(request: Request) -> Batch | Response:
    batch_id = request.path_params["batch_id"]
    batch = _batches(state_of(request)).get(batch_id)
    return batch if batch is not None else not_found("batch", batch_id, "batch_id")


async def retrieve(request: Request) -> Response:
    batch = _batch_or_404(request)
    if isinstance(batch, Response):
        return batch
    await _advance(request, batch)
    return ok(batch.fields)


async def cancel(request: Request) -> Response:
    batch = _batch_or_404(request)
    if isinstance(batch, Response):
        return batch
    if batch.fields["status"] in (*TERMINAL, "finalizing"):
        message = f"Cannot cancel a batch with status '{batch.fields['status']}'."
        return error(400, message, type_="invalid_request_error", param="batch_id")
    if batch.fields["status"] == "validating" and not batch.lines:
        _validate(state_of(request), batch, known_models(request))
    batch.fields.update(status="cancelling", cancelling_at=now())
    return ok(batch.fields)


async def list_batches(request: Request) -> Response:
    items = [batch.fields for batch in reversed(_batches(state_of(request)).values())]
    after = request.query_params.get("after")
    try:
        limit = int(request.query_params.get("limit", DEFAULT_LIMIT))
    except ValueError:
        return error(400, "limit must be an integer", type_="invalid_request_error", param="limit")
    ids = [item["id"] for item in items]
    start = ids.index(after) + 1 if after in ids else 0
    page = items[start : start + max(limit, 1)]
    return ok(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else "",
            "last_id": page[-1]["id"] if page else "",
            "has_more": start + len(page) < len(items),
        }
    )


def flaky_output(state: State, file_id: str) -> bool:
    """
    Whether this download of ``file_id`` must fail: the first download of a ``flaky-download`` batch's output.

    :param state: the stand-in's state.
    :param file_id: the file being downloaded.
    """
    for batch in _batches(state).values():
        if batch.flaky_download and batch.fields.get("output_file_id") == file_id:
            batch.flaky_download = False
            return True
    return False


routes = [
    Route("/batches", create, methods=["POST"]),
    Route("/batches", list_batches, methods=["GET"]),
    Route("/batches/{batch_id}", retrieve, methods=["GET"]),
    Route("/batches/{batch_id}/cancel", cancel, methods=["POST"]),
]

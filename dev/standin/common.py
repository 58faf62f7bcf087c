"""Shared pieces of the stand-in: its state, OpenAI-shaped errors, ids and JSON answers."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


@dataclass
class State:
    """
    Everything the stand-in remembers between requests.

    :param api_key: the only key it accepts.
    :param job_step_seconds: how long a fine-tuning job stays in each status before it moves on.
    :param webhooks: the :class:`~dev.standin.webhooks.WebhookSender`, when webhooks are configured.
    :param shutdown_dates: ``shutdown_date`` overrides for ``GET /models`` (model id → ``YYYY-MM-DD`` or ``None``);
        a model not served yet is added to the list.
    """

    api_key: str
    job_step_seconds: float = 1.0
    shutdown_dates: dict[str, str | None] = field(default_factory=dict)
    models_reads: int = 0
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    fine_tuned_models: dict[str, dict[str, Any]] = field(default_factory=dict)
    responses: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    batches: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    upload_parts: dict[str, dict[str, bytes]] = field(default_factory=dict)
    vector_stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    store_files: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    file_batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    counter: itertools.count = field(default_factory=itertools.count)
    webhooks: Any = None


def new_id(prefix: str) -> str:
    """A fresh OpenAI-style id such as ``file-3f2a...``."""
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def now() -> int:
    """The current Unix time in seconds."""
    return int(time.time())


def request_id() -> str:
    """A fresh ``x-request-id``."""
    return f"req_{uuid.uuid4().hex}"


def ok(payload: Any, status_code: int = 200) -> JSONResponse:
    """A JSON answer with a request id."""
    return JSONResponse(payload, status_code=status_code, headers={"x-request-id": request_id()})


def error(status_code: int, message: str, *, type_: str, code: str | None = None, param: str | None = None) -> Response:
    """An error answer shaped like OpenAI's."""
    body = {"error": {"message": message, "type": type_, "code": code, "param": param}}
    return JSONResponse(body, status_code=status_code, headers={"x-request-id": request_id()})


def not_found(kind: str, ident: str, param: str) -> Response:
    """OpenAI's 404 for an unknown object."""
    return error(
        404, f"No such {kind}: '{ident}'", type_="invalid_request_error", code=f"{kind}_not_found", param=param
    )


async def json_body(request: Request) -> dict[str, Any] | Response:
    """The request's JSON object, or a 400 shaped like OpenAI's."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        return error(400, "We could not parse the JSON body of your request.", type_="invalid_request_error")
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object.", type_="invalid_request_error")
    return body


def state_of(request: Request) -> State:
    """The stand-in's state."""
    return request.app.state.standin

"""
The webhook endpoint: ``POST /webhooks/{conn_id}`` of the FastAPI app the plugin mounts at ``/openai-fusion``.

Plugin routes are not behind Airflow's authentication: the Standard Webhooks signature is the only one. Every
refusal (unknown connection, no secret, missing or malformed header, stale timestamp, bad signature, body over
1 MiB) gets the same short 400, so a caller learns nothing about which connections exist; the reason goes to the
api-server's log without the secret, the signatures or the body. A verified event is recorded once and answered
200; an event type the provider does not know is answered 200 and logged (OpenAI would redeliver anything else for
72 hours); a failure to record answers 500, so OpenAI delivers it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_openai_fusion.webhooks.events import CONN_ID, EVENT_TYPES, Event, MalformedEvent, parse_event
from airflow_provider_openai_fusion.webhooks.signature import WebhookRefused, verify

MAX_BODY_BYTES = 1 << 20
READ_SECONDS = 10.0
log = logging.getLogger(__name__)


def _answer(status: int, text: str) -> JSONResponse:
    return JSONResponse({"detail": text}, status_code=status)


@dataclass
class Receiver:
    """
    The endpoint's logic, with what it needs from Airflow passed in (the plugin passes the real ones).

    :param keys: conn_id -> the key bytes of its webhook secrets (empty: no such connection, or no secret).
    :param record: records a verified event for a conn_id; returns what became of it.
    :param clock: the current Unix time.
    :param max_body_bytes: the largest body read.
    :param read_seconds: how long the body may take to arrive.
    """

    keys: Callable[[str], list[bytes]]
    record: Callable[[str, Event], object]
    clock: Callable[[], float] = time.time
    max_body_bytes: int = MAX_BODY_BYTES
    read_seconds: float = READ_SECONDS

    async def __call__(self, conn_id: str, request: Request) -> JSONResponse:
        """
        Answer one delivery.

        :param conn_id: the connection from the URL.
        :param request: the request.
        """
        try:
            body = await asyncio.wait_for(self._body(request), self.read_seconds)
            if not CONN_ID.fullmatch(conn_id):
                raise WebhookRefused("not a connection id")
            keys = await run_in_threadpool(self.keys, conn_id)
            if not keys:
                raise WebhookRefused("no openai_fusion connection with a valid webhook_secret")
            webhook_id = verify(keys, request.headers, body, self.clock())
        except WebhookRefused as refusal:
            log.warning("Refused a webhook for connection %.100r: %s", conn_id, refusal.reason)
            return _answer(400, "invalid webhook")
        except asyncio.TimeoutError:
            log.warning("Refused a webhook for connection %.100r: its body took over %s s", conn_id, self.read_seconds)
            return _answer(400, "invalid webhook")
        try:
            event = parse_event(body)
        except MalformedEvent as exc:
            log.error(
                "Webhook %s for %s is signed but not an OpenAI event (%s): not recorded", webhook_id, conn_id, exc
            )
            return _answer(200, "ignored")
        if event.type not in EVENT_TYPES:
            log.info("Webhook %s for %s: type %.100r is not one the provider records", webhook_id, conn_id, event.type)
            return _answer(200, "ignored")
        outcome = await run_in_threadpool(self.record, conn_id, event)
        log.info(
            "Webhook %s for %s: %s %s of %s: %s",
            webhook_id,
            conn_id,
            event.type,
            event.event_id,
            event.object_id,
            getattr(outcome, "value", outcome),
        )
        return _answer(200, "ok")

    async def _body(self, request: Request) -> bytes:
        """The body, read up to the limit (an announced or actual larger one is refused as soon as it is seen)."""
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            raise WebhookRefused("body over the size limit (Content-Length)")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_body_bytes:
                raise WebhookRefused("body over the size limit")
        return bytes(body)


def create_app(receiver: Receiver) -> FastAPI:
    """
    The FastAPI app with the one webhook route (no docs pages: nothing else is exposed).

    :param receiver: the endpoint's logic.
    """
    app = FastAPI(title="OpenAI Fusion webhooks", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/webhooks/{conn_id}", include_in_schema=False)
    async def receive(conn_id: str, request: Request) -> JSONResponse:
        return await receiver(conn_id, request)

    return app

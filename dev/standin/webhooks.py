"""
Stand-in webhooks, sent as OpenAI sends them: when a batch, a background response or a fine-tuning job ends, an
event ``{"id": "evt_...", "object": "event", "type": "batch.completed", "created_at", "data": {"id"}}`` is posted to
the configured URL, signed per the Standard Webhooks specification with the ``standardwebhooks`` reference package
(so the provider's own verifier is checked against an independent signer). A delivery that is not answered 2xx is
retried with exponential backoff, the same ``webhook-id`` and body re-signed with a fresh timestamp, up to
``attempts`` times (OpenAI keeps trying for 72 hours; the stand-in stops sooner).

Configured by the environment (so the secret is in no command line or log): ``STANDIN_WEBHOOK_URL`` and
``STANDIN_WEBHOOK_SECRET`` (``whsec_...``). With webhooks on, the stand-in also moves its batches, background
responses and fine-tuning jobs on by itself, one status every ``job_step_seconds``, as OpenAI does, so that
they end without being polled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
import standardwebhooks

log = logging.getLogger("standin.webhooks")


@dataclass
class WebhookSender:
    """
    Posts signed events to one URL, retrying with backoff.

    :param url: where events go.
    :param secret: the ``whsec_...`` signing secret.
    :param attempts: deliveries of one event at most.
    :param first_backoff: seconds before the first retry; doubled each time, up to ``max_backoff``.
    :param max_backoff: the longest wait between two attempts.
    :param sleep: how to wait (a fake in tests).
    :param transport: the HTTP transport (a mock in tests).
    """

    url: str
    secret: str
    attempts: int = 6
    first_backoff: float = 0.5
    max_backoff: float = 8.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    transport: httpx.AsyncBaseTransport | None = None
    sent: list[tuple[str, str, int | None]] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def notify(self, event_type: str, object_id: str) -> None:
        """
        Deliver an event in the background (the API's answer does not wait for it).

        :param event_type: e.g. ``batch.completed``.
        :param object_id: the id of the batch, response or job.
        """
        task = asyncio.get_running_loop().create_task(self.deliver(event_type, object_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, event_type: str, object_id: str) -> bool:
        """
        Post one event until it is answered 2xx or the attempts run out; whether it was acknowledged.

        :param event_type: e.g. ``batch.completed``.
        :param object_id: the id of the batch, response or job.
        """
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": event_type,
            "created_at": int(time.time()),
            "data": {"id": object_id},
        }
        body = json.dumps(event)
        webhook_id = f"wh_{uuid.uuid4().hex}"
        signer = standardwebhooks.Webhook(self.secret)
        async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
            for attempt in range(1, self.attempts + 1):
                now = datetime.now(tz=timezone.utc)
                headers = {
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signer.sign(webhook_id, now, body),
                    "content-type": "application/json",
                    "user-agent": "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)",
                }
                try:
                    status: int | None = (await client.post(self.url, content=body, headers=headers)).status_code
                except httpx.HTTPError as exc:
                    status = None
                    log.warning("Webhook %s attempt %d to %s: %r", webhook_id, attempt, self.url, exc)
                self.sent.append((webhook_id, event_type, status))
                log.warning("Webhook %s %s of %s, attempt %d: %s", webhook_id, event_type, object_id, attempt, status)
                if status is not None and 200 <= status < 300:
                    return True
                if attempt < self.attempts:
                    await self.sleep(min(self.first_backoff * 2 ** (attempt - 1), self.max_backoff))
        return False


def sender_from_env() -> WebhookSender | None:
    """The sender configured by ``STANDIN_WEBHOOK_URL`` and ``STANDIN_WEBHOOK_SECRET``, or ``None``."""
    url, secret = os.environ.get("STANDIN_WEBHOOK_URL"), os.environ.get("STANDIN_WEBHOOK_SECRET")
    return WebhookSender(url, secret) if url and secret else None


def drive(step_seconds: float, advance: Callable[[], Awaitable[bool]], limit: int = 1000) -> None:
    """
    Move an object on by itself, as OpenAI does: call ``advance`` every ``step_seconds`` until it returns that the
    object has ended (at most ``limit`` times).

    :param step_seconds: the stand-in's job step.
    :param advance: moves the object one status on; returns whether it has ended.
    :param limit: the most steps taken.
    """

    async def run() -> None:
        for _ in range(limit):
            await asyncio.sleep(max(step_seconds, 0.05))
            if await advance():
                return

    task = asyncio.get_running_loop().create_task(run())
    _DRIVERS.add(task)
    task.add_done_callback(_DRIVERS.discard)


_DRIVERS: set[asyncio.Task[Any]] = set()

"""The stand-in's webhook sender: signed like OpenAI, retried with bounded backoff on anything but 2xx."""

from __future__ import annotations

import base64
import json

import httpx

from airflow_provider_openai_fusion.webhooks.events import parse_event
from airflow_provider_openai_fusion.webhooks.signature import secret_key, verify
from dev.standin.webhooks import WebhookSender

SECRET = "whsec_" + base64.b64encode(b"stand-in secret of thirty-two by").decode()


def sender(statuses: list[int | Exception], seen: list[httpx.Request], waits: list[float]) -> WebhookSender:
    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        reply = statuses[min(len(seen), len(statuses)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return httpx.Response(reply)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return WebhookSender(
        "http://airflow.test/openai-fusion/webhooks/c", SECRET, sleep=sleep, transport=httpx.MockTransport(answer)
    )


async def test_a_delivery_is_signed_verifiable_and_shaped_like_openais() -> None:
    seen: list[httpx.Request] = []
    assert await sender([200], seen, []).deliver("batch.completed", "batch_1")
    (request,) = seen
    headers = {key: request.headers[key] for key in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    now = int(request.headers["webhook-timestamp"])
    assert verify([secret_key(SECRET)], headers, request.content, now) == request.headers["webhook-id"]
    event = parse_event(request.content)
    assert (event.type, event.object_id) == ("batch.completed", "batch_1")
    assert json.loads(request.content)["object"] == "event"


async def test_non_2xx_and_errors_are_retried_with_growing_backoff_same_id_and_body() -> None:
    seen: list[httpx.Request] = []
    waits: list[float] = []
    statuses: list[int | Exception] = [500, 400, httpx.ConnectError("refused"), 503, 204]
    assert await sender(statuses, seen, waits).deliver("response.completed", "resp_1")
    assert len(seen) == 5
    assert waits == [0.5, 1.0, 2.0, 4.0]
    assert len({r.headers["webhook-id"] for r in seen}) == 1
    assert len({r.content for r in seen}) == 1


async def test_retries_are_bounded() -> None:
    seen: list[httpx.Request] = []
    waits: list[float] = []
    assert not await sender([500], seen, waits).deliver("batch.failed", "batch_2")
    assert len(seen) == 6
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0]

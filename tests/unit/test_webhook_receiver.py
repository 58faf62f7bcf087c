"""The webhook endpoint with a fake connection lookup and recorder: what is refused, acknowledged and recorded."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion.webhooks.events import Event
from airflow_provider_openai_fusion.webhooks.receiver import MAX_BODY_BYTES, Receiver, create_app
from airflow_provider_openai_fusion.webhooks.signature import secret_key, sign

SECRET = "whsec_" + base64.b64encode(b"webhook-secret-SENTINEL-32-bytes").decode()
NOW = 1_765_000_000
URL = "http://airflow.test/webhooks/openai_fusion_default"


class Fakes:
    """The receiver's Airflow side: one connection with a secret, and a recorder that dedupes by event id."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, Event]] = []
        self.lookups: list[str] = []

    def keys(self, conn_id: str) -> list[bytes]:
        self.lookups.append(conn_id)
        return [secret_key(SECRET)] if conn_id == "openai_fusion_default" else []

    def record(self, conn_id: str, event: Event) -> str:
        if any(seen.event_id == event.event_id for _, seen in self.recorded):
            return "repeated"
        self.recorded.append((conn_id, event))
        return "recorded"


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def client(fakes: Fakes) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Receiver(keys=fakes.keys, record=fakes.record, clock=lambda: NOW))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://airflow.test") as client:
        yield client


def event(type_: str = "batch.completed", event_id: str = "evt_1", object_id: str = "batch_1") -> bytes:
    body = {"id": event_id, "object": "event", "type": type_, "created_at": NOW - 5, "data": {"id": object_id}}
    return json.dumps(body).encode()


def signed(body: bytes, webhook_id: str = "wh_1", timestamp: int = NOW, secret: str = SECRET) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret_key(secret), webhook_id, timestamp, body),
        "content-type": "application/json",
    }


async def test_a_signed_event_is_recorded_with_its_ids(client: httpx.AsyncClient, fakes: Fakes) -> None:
    body = event()
    answer = await client.post(URL, content=body, headers=signed(body))
    assert answer.status_code == 200
    assert fakes.recorded == [("openai_fusion_default", Event("evt_1", "batch.completed", "batch_1", NOW - 5))]
    assert fakes.recorded[0][1].extra() == {
        "event_id": "evt_1",
        "type": "batch.completed",
        "object_id": "batch_1",
        "created_at": NOW - 5,
    }


async def test_a_redelivery_is_acknowledged_and_recorded_once(client: httpx.AsyncClient, fakes: Fakes) -> None:
    body = event()
    answers = [await client.post(URL, content=body, headers=signed(body, timestamp=NOW - i)) for i in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len(fakes.recorded) == 1


async def test_an_unknown_type_is_acknowledged_logged_and_not_recorded(
    client: httpx.AsyncClient, fakes: Fakes, caplog: pytest.LogCaptureFixture
) -> None:
    body = event("realtime.call.incoming")
    with caplog.at_level(logging.INFO):
        answer = await client.post(URL, content=body, headers=signed(body))
    assert answer.status_code == 200
    assert fakes.recorded == []
    assert "realtime.call.incoming" in caplog.text


async def test_a_signed_body_that_is_not_an_event_is_acknowledged_not_recorded(
    client: httpx.AsyncClient, fakes: Fakes
) -> None:
    for body in (b"[]", b"not json", json.dumps({"id": "evt_2", "type": "batch.completed"}).encode()):
        answer = await client.post(URL, content=body, headers=signed(body))
        assert answer.status_code == 200
    assert fakes.recorded == []


def _refusals() -> list[tuple[str, str, dict[str, str], bytes]]:
    body = event()
    good = signed(body)
    forged = signed(body, secret="whsec_" + base64.b64encode(b"x" * 32).decode())
    return [
        ("forged signature", URL, forged, body),
        ("stale timestamp", URL, signed(body, timestamp=NOW - 301), body),
        ("future timestamp", URL, signed(body, timestamp=NOW + 301), body),
        ("body changed", URL, good, body.replace(b"batch_1", b"batch_2")),
        ("no id", URL, {k: v for k, v in good.items() if k != "webhook-id"}, body),
        ("no timestamp", URL, {k: v for k, v in good.items() if k != "webhook-timestamp"}, body),
        ("no signature", URL, {k: v for k, v in good.items() if k != "webhook-signature"}, body),
        ("malformed timestamp", URL, {**good, "webhook-timestamp": "soon"}, body),
        ("malformed signature", URL, {**good, "webhook-signature": "v1,%%%"}, body),
        ("unknown connection", URL.replace("openai_fusion_default", "other"), good, body),
        ("not a connection id", URL.replace("openai_fusion_default", "a%20b"), good, body),
    ]


@pytest.mark.parametrize(("reason", "url", "headers", "body"), _refusals(), ids=[r[0] for r in _refusals()])
async def test_every_refusal_is_the_same_short_400_and_records_nothing(
    client: httpx.AsyncClient,
    fakes: Fakes,
    caplog: pytest.LogCaptureFixture,
    reason: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = await client.post(url, content=body, headers=headers)
    assert (answer.status_code, answer.content) == (400, b'{"detail":"invalid webhook"}'), reason
    assert fakes.recorded == []
    assert "Refused a webhook" in caplog.text
    secret_text = SECRET.removeprefix("whsec_")
    leaks = [secret_text, body.decode(), headers.get("webhook-signature", "")[3:]]
    assert not [leaked for leaked in leaks if leaked and leaked in caplog.text]


async def test_a_body_over_one_mib_is_refused_before_it_is_all_read(client: httpx.AsyncClient, fakes: Fakes) -> None:
    chunk = b"x" * 65536
    sent: list[int] = []

    async def two_mib() -> AsyncIterator[bytes]:
        for _ in range(32):
            sent.append(len(chunk))
            yield chunk

    body = b"x" * (2 * MAX_BODY_BYTES)
    answer = await client.post(URL, content=two_mib(), headers=signed(body))
    assert answer.status_code == 400
    assert sum(sent) <= MAX_BODY_BYTES + 2 * len(chunk), f"read {sum(sent)} bytes of a 2 MiB body"
    assert fakes.lookups == [], "the connection was looked up for an oversized body"


async def test_a_declared_length_over_the_limit_is_refused_unread(client: httpx.AsyncClient, fakes: Fakes) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    answer = await client.post(URL, content=body, headers=signed(body))
    assert answer.status_code == 400
    assert fakes.recorded == [] and fakes.lookups == []


async def test_a_body_of_exactly_one_mib_is_accepted(client: httpx.AsyncClient, fakes: Fakes) -> None:
    padded = event()[:-1] + b', "pad": "' + b"p" * (MAX_BODY_BYTES - len(event()) - 11) + b'"}'
    assert len(padded) == MAX_BODY_BYTES
    answer = await client.post(URL, content=padded, headers=signed(padded))
    assert answer.status_code == 200
    assert len(fakes.recorded) == 1


async def test_a_recorder_failure_is_a_500_so_openai_delivers_again(fakes: Fakes) -> None:
    def broken(conn_id: str, event: Event) -> Any:
        raise RuntimeError("database is locked")

    app = create_app(Receiver(keys=fakes.keys, record=broken, clock=lambda: NOW))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://airflow.test") as client:
        body = event()
        answer = await client.post(URL, content=body, headers=signed(body))
    assert answer.status_code == 500


async def test_only_post_on_the_webhook_path_exists(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL)).status_code == 405
    for path in ("/docs", "/openapi.json", "/webhooks", "/"):
        assert (await client.get(path)).status_code == 404

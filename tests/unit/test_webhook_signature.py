"""Standard Webhooks verification: the specification's published vectors, the package's own answers, and refusals."""

from __future__ import annotations

import base64
import random
from datetime import datetime, timezone

import pytest
import standardwebhooks

from airflow_provider_openai_fusion.webhooks.signature import WebhookRefused, secret_key, sign, verify

# The published vectors of the Standard Webhooks reference libraries (libraries/*/tests).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
WRONG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
KEY = secret_key(SECRET)


def headers(signature: str = EXPECTED, webhook_id: str = MSG_ID, timestamp: str = str(TIMESTAMP)) -> dict[str, str]:
    return {"webhook-id": webhook_id, "webhook-timestamp": timestamp, "webhook-signature": signature}


def test_sign_matches_the_published_vector() -> None:
    assert sign(KEY, MSG_ID, TIMESTAMP, PAYLOAD) == EXPECTED
    assert secret_key(SECRET) == secret_key(SECRET.removeprefix("whsec_"))


def test_the_published_signature_verifies_and_returns_the_id() -> None:
    assert verify([KEY], headers(), PAYLOAD, now=TIMESTAMP) == MSG_ID


def test_the_published_wrong_signature_is_refused() -> None:
    with pytest.raises(WebhookRefused, match="no signature matches"):
        verify([KEY], headers(WRONG), PAYLOAD, now=TIMESTAMP)


def test_several_signatures_one_valid_among_other_versions() -> None:
    bogus = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    mixed = " ".join([bogus, "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", EXPECTED, bogus])
    assert verify([KEY], headers(mixed), PAYLOAD, now=TIMESTAMP) == MSG_ID


def test_rotation_accepts_either_secret() -> None:
    other = secret_key("whsec_" + base64.b64encode(b"another key of 32 bytes, exactly").decode())
    assert verify([other, KEY], headers(), PAYLOAD, now=TIMESTAMP) == MSG_ID
    with pytest.raises(WebhookRefused):
        verify([other], headers(), PAYLOAD, now=TIMESTAMP)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False), (86400, False)])
def test_timestamp_tolerance_is_five_minutes_either_way(offset: int, ok: bool) -> None:
    if ok:
        assert verify([KEY], headers(), PAYLOAD, now=TIMESTAMP - offset) == MSG_ID
    else:
        with pytest.raises(WebhookRefused, match="off this machine's clock"):
            verify([KEY], headers(), PAYLOAD, now=TIMESTAMP - offset)


@pytest.mark.parametrize(
    "bad",
    [
        {"webhook-id": ""},
        {"webhook-timestamp": ""},
        {"webhook-signature": ""},
        {"webhook-timestamp": "hello"},
        {"webhook-timestamp": "1614265330.5"},
        {"webhook-timestamp": "-1614265330"},
        {"webhook-timestamp": "9" * 40},
        {"webhook-signature": "v1"},
        {"webhook-signature": "v1,not base64!"},
        {"webhook-signature": "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
        {"webhook-id": "msg with spaces"},
        {"webhook-id": "x" * 257},
    ],
)
def test_missing_or_malformed_headers_are_refused_never_another_error(bad: dict[str, str]) -> None:
    with pytest.raises(WebhookRefused):
        verify([KEY], {**headers(), **bad}, PAYLOAD, now=TIMESTAMP)


def test_a_body_changed_by_one_byte_or_not_utf8_is_refused() -> None:
    with pytest.raises(WebhookRefused):
        verify([KEY], headers(), PAYLOAD.replace(b"2", b"3", 1), now=TIMESTAMP)
    with pytest.raises(WebhookRefused):
        verify([KEY], headers(), b"\xff\xfe" + PAYLOAD, now=TIMESTAMP)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not*base64", "whsec_A"])
def test_a_malformed_secret_is_an_error_without_the_secret(secret: str) -> None:
    with pytest.raises(ValueError) as caught:
        secret_key(secret)
    assert not secret.removeprefix("whsec_") or secret.removeprefix("whsec_") not in str(caught.value)


def test_agrees_with_the_standardwebhooks_package_on_random_messages() -> None:
    rng = random.Random(24)
    for _ in range(200):
        key = rng.randbytes(rng.randint(16, 64))
        secret = "whsec_" + base64.b64encode(key).decode()
        body = bytes(rng.randint(0x20, 0x7E) for _ in range(rng.randint(0, 400)))
        webhook_id = f"msg_{rng.getrandbits(64):x}"
        timestamp = 1_700_000_000 + rng.randint(0, 10**8)
        theirs = standardwebhooks.Webhook(secret)
        signature = theirs.sign(webhook_id, datetime.fromtimestamp(timestamp, tz=timezone.utc), body.decode())
        assert sign(secret_key(secret), webhook_id, timestamp, body) == signature
        assert verify([secret_key(secret)], headers(signature, webhook_id, str(timestamp)), body, timestamp)

"""
Standard Webhooks verification (https://www.standardwebhooks.com), the scheme OpenAI signs webhooks with.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, signed with HMAC-SHA256 under the secret
(``whsec_`` + base64 of the key bytes); ``webhook-signature`` holds one or more space-separated ``v1,<base64>``
signatures (several during a secret rotation). A timestamp more than :data:`TOLERANCE_SECONDS` away from now is
refused, so a captured request cannot be replayed later. Signatures are compared in constant time.

This is the algorithm of the ``standardwebhooks`` package (tested here against its published vectors) written out
rather than depended on: it is 40 lines of the standard library, it takes the clock as an argument (so tests need no
frozen time), and every malformed input ends in the one :class:`WebhookRefused` (the package lets a non-UTF-8 body,
a signature without a comma or bad base64 escape as other exceptions). Nothing here imports Airflow.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping

TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"
MAX_ID_LENGTH = 256
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_ID = re.compile(r"[\x21-\x7e]+")


class WebhookRefused(Exception):
    """
    The request is not a valid signed webhook; the receiver answers it with the same 400 whatever the reason.

    :param reason: why, for the api-server's log (never the secret, a signature or the body).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def secret_key(secret: str) -> bytes:
    """
    The key bytes of a ``whsec_<base64>`` secret (the prefix is optional, as in the reference libraries).

    :param secret: the secret as OpenAI's dashboard shows it.
    """
    text = secret.strip()
    text = text[len(SECRET_PREFIX) :] if text.startswith(SECRET_PREFIX) else text
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret is not whsec_ followed by base64") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """
    The ``v1,<base64>`` signature of a message, as a sender puts it into ``webhook-signature``.

    :param key: the secret's key bytes (:func:`secret_key`).
    :param webhook_id: the ``webhook-id`` header.
    :param timestamp: the ``webhook-timestamp`` header, in Unix seconds.
    :param body: the exact body bytes.
    """
    digest = hmac.new(key, b"%s.%d.%s" % (webhook_id.encode(), timestamp, body), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(keys: list[bytes], headers: Mapping[str, str], body: bytes, now: float) -> str:
    """
    Check a webhook's headers and signature; return its ``webhook-id``, or raise :class:`WebhookRefused`.

    :param keys: the key bytes of the secrets accepted (the current one, and the old one during a rotation).
    :param headers: the request headers (names in lower case, as ASGI servers give them).
    :param body: the exact body bytes.
    :param now: the current Unix time.
    """
    webhook_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (webhook_id and timestamp and signatures):
        raise WebhookRefused("a webhook-id, webhook-timestamp or webhook-signature header is missing")
    if len(webhook_id) > MAX_ID_LENGTH or not _ID.fullmatch(webhook_id):
        raise WebhookRefused("malformed webhook-id header")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookRefused("malformed webhook-timestamp header")
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise WebhookRefused(f"webhook-timestamp is {now - int(timestamp):+.0f} s off this machine's clock")
    given = []
    for token in signatures.split(" "):
        version, _, value = token.partition(",")
        if version != "v1":
            continue
        try:
            given.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not given:
        raise WebhookRefused("no v1 signature in webhook-signature")
    expected = [base64.b64decode(sign(key, webhook_id, int(timestamp), body)[3:]) for key in keys]
    if not any(hmac.compare_digest(mine, theirs) for mine in expected for theirs in given):
        raise WebhookRefused("no signature matches the connection's webhook_secret")
    return webhook_id

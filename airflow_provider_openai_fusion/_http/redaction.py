"""The API key removed from any text that could reach a log, an exception or an XCom, in every form it can take."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "***"
_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "openai-api-key", "proxy-authorization"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """
    Return a copy of ``headers`` fit for a log line.

    :param headers: request or response headers.
    """
    return {name: REDACTED if name.lower() in _SECRET_HEADERS else value for name, value in headers.items()}


@functools.lru_cache(maxsize=8)
def _escaped_forms(secret: str) -> re.Pattern[str]:
    """The key with any of its characters written as a JSON escape (``\\u002d``, ``\\/``) or ``%XX``."""
    parts = []
    for char in secret:
        code = ord(char)
        forms = [re.escape(char), rf"\\u{code:04x}", rf"%{code:02x}"]
        if char == "/":
            forms.append(r"\\/")
        parts.append(f"(?:{'|'.join(forms)})")
    return re.compile("".join(parts), re.IGNORECASE)


def _redact_text(text: str, secret: str) -> str:
    text = text.replace(secret, REDACTED)
    if "\\" in text or "%" in text:
        text = _escaped_forms(secret).sub(REDACTED, text)
    return text


def redact(value: Any, secret: str) -> Any:
    """
    Replace every occurrence of ``secret`` in text, bytes, or the strings of a decoded JSON value; in text and
    bytes also its JSON-escaped (``sk\\u002dproj...``) and percent-encoded forms.

    :param value: a string, bytes, or a JSON value (dicts and lists are copied).
    :param secret: the API key.
    """
    if not secret:
        return value
    if isinstance(value, str):
        return _redact_text(value, secret)
    if isinstance(value, bytes):
        value = value.replace(secret.encode(), REDACTED.encode())
        if b"\\" in value or b"%" in value:
            value = _redact_text(value.decode("latin-1"), secret).encode("latin-1")
        return value
    if isinstance(value, dict):
        return {redact(key, secret): redact(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, secret) for item in value]
    return value


def redact_decoded(value: Any, body: bytes, secret: str) -> Any:
    """
    :func:`redact` for ``value``, decoded from ``body`` (JSON, text or the bytes themselves), without walking it
    when it cannot hold the key in any form :func:`redact` finds: a body without the key's bytes, without escapes
    (backslashes: JSON's ``\\u``), without ``%`` (percent-encoding) and without NUL bytes (JSON in UTF-16 or
    UTF-32) decodes to strings that are byte-for-byte parts of it. A 2,048-vector answer is then returned as
    decoded, not copied.

    :param value: the decoded body.
    :param body: the bytes it was decoded from.
    :param secret: the API key.
    """
    if not secret or not (secret.encode() in body or any(mark in body for mark in (b"\\", b"%", b"\x00"))):
        return value
    return redact(value, secret)

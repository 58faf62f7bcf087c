"""The API key removed from any text that could reach a log, an exception or an XCom, in every form it can take."""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "***"
_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "openai-api-key", "proxy-authorization"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """
    Return a copy of ``headers`` fit for a log line.

    :param headers: request or response headers.
    """
    return {name: REDACTED if name.lower() in _SECRET_HEADERS else value for name, value in headers.items()}


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def printable(value: Any, limit: int = 100) -> str:
    """
    ``value`` as text fit for one log line: control characters (C0, DEL, C1: ANSI escapes, line breaks), line
    separators, zero-width and bidi-override characters written as ``\\xNN``/``\\uNNNN`` escapes; cut after
    ``limit`` characters.

    :param value: a server's value, such as a job's ``status``.
    :param limit: the most characters kept.
    """
    text = str(value)
    text = text if len(text) <= limit else f"{text[:limit]}..."
    return _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


MIN_BASE64_CHARS = 12
"""A base64 run shorter than this is not taken for the key's (a short test key would match random text)."""
_MARKS = ("\\", "%", "&")
_TEXT_MARKS = (*_MARKS, "\x00")


@functools.cache
def _named_entities() -> dict[str, list[str]]:
    """Character -> its HTML5 entity names (``_`` -> ``lowbar;``), read once and only when a key is redacted."""
    import html.entities

    names: dict[str, list[str]] = {}
    for name, text in html.entities.html5.items():
        if len(text) == 1:
            names.setdefault(text, []).append(name)
    return names


def _base64_runs(secret: bytes) -> tuple[str, ...]:
    """
    The key as it shows inside base64 text, at each of the three byte offsets it can start at (alone, after
    ``Bearer ``, inside a JSON document ...), in the standard and the URL-safe alphabet: the characters that
    depend on the key's bytes only.
    """
    runs = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode("ascii")
        core = encoded[(8 * offset + 5) // 6 : 8 * (offset + len(secret)) // 6]
        if len(core) >= MIN_BASE64_CHARS:
            runs += [core, core.translate(str.maketrans("+/", "-_"))]
    return tuple(dict.fromkeys(runs))


def _char_forms(char: str) -> str:
    """One character as written plain, JSON-escaped, percent-encoded (once or more), or as an HTML entity."""
    code = ord(char)
    forms = [re.escape(char), rf"\\u{code:04x}", rf"%(?:25)*{code:02x}", rf"&#0*{code};?", rf"&#x0*{code:x};?"]
    forms += [re.escape(f"&{name}") for name in _named_entities().get(char, ())]
    if char == "/":
        forms.append(r"\\/")
    return f"(?:{'|'.join(forms)})"


@functools.lru_cache(maxsize=8)
def _forms(secret: str) -> tuple[tuple[str, ...], re.Pattern[str]]:
    """
    The key and its base64 runs, and a pattern of all of them with any character written in another form; the
    pattern starts with a look-ahead at the first characters it can match, which makes a scan four times faster.
    """
    plain = (secret, *_base64_runs(secret.encode()))
    starts = re.escape("".join(sorted({text[0] for text in plain} | set(_MARKS))))
    pattern = "|".join("".join(_char_forms(char) for char in text) for text in plain)
    return plain, re.compile(f"(?=[{starts}])(?:{pattern})", re.IGNORECASE)


def _redact_text(text: str, secret: str) -> str:
    plain, escaped = _forms(secret)
    for form in plain:
        text = text.replace(form, REDACTED)
    if any(mark in text for mark in _MARKS):
        text = escaped.sub(REDACTED, text)
    if "\x00" in text:
        # UTF-16 or UTF-32 text read as bytes: the key, in any form, with NUL bytes between its characters. The
        # text loses its NUL bytes only when the key was found in it.
        squeezed = text.replace("\x00", "")
        redacted = _redact_text(squeezed, secret)
        text = redacted if redacted != squeezed else text
    return text


@functools.lru_cache(maxsize=8)
def _text_signs(secret: str) -> tuple[str, ...]:
    """What text holding the key in some form holds: one of its plain forms (:func:`_forms`) or an escape mark."""
    return (*_forms(secret)[0], *_TEXT_MARKS)


@functools.lru_cache(maxsize=8)
def _byte_signs(secret: str) -> tuple[bytes, ...]:
    """:func:`_text_signs` as bytes, encoded once per key."""
    return tuple(sign.encode() for sign in _text_signs(secret))


def may_hold(body: bytes, secret: str) -> bool:
    """
    Whether ``body`` may hold ``secret`` in a form :func:`redact` finds: as sent, as base64, or written with
    escapes (JSON's ``\\u``, ``%XX``, HTML entities), or in UTF-16/32 (NUL bytes).

    :param body: the bytes of an answer.
    :param secret: the API key.
    """
    return any(map(body.__contains__, _byte_signs(secret)))


def redact_values(items: Iterable[tuple[str, str]], secret: str) -> dict[str, str]:
    """
    The ``(name, value)`` pairs of an answer's headers as a dict, the key replaced in every value in every form
    :func:`redact` finds. All values are looked at in one pass first: when none holds a form of the key nor any
    character an escaped form needs (``\\``, ``%``, ``&``, NUL), nothing can be redacted and they are kept as
    they are (the common case: a handful of plain values per answer).

    :param items: the header pairs (``httpx.Headers.items()``).
    :param secret: the API key.
    """
    values = dict(items)
    if not secret:
        return values
    joined = "\n".join(values.values())  # each value is a part of it: the joined text misses nothing they hold
    if any(map(joined.__contains__, _text_signs(secret))):
        return {name: _redact_text(value, secret) for name, value in values.items()}
    return values


def redact(value: Any, secret: str) -> Any:
    """
    Replace every occurrence of ``secret`` in text, bytes, or the strings (keys included) of a decoded JSON value,
    in every form a server may echo it: as sent; in UTF-16 or UTF-32 (NUL bytes between its characters);
    base64-encoded, alone or inside a longer base64 text (``Bearer <key>``, a whole header), in the standard or
    URL-safe alphabet; and with any of its characters JSON-escaped (``sk\\u002dproj...``), percent-encoded once or
    more (``%2d``, ``%252d``) or written as an HTML entity (``&#115;``, ``&#x73;``, ``&lowbar;``).

    :param value: a string, bytes, or a JSON value (dicts and lists are copied).
    :param secret: the API key.
    """
    if not secret:
        return value
    if isinstance(value, str):
        return _redact_text(value, secret)
    if isinstance(value, bytes):
        return _redact_text(value.decode("latin-1"), secret).encode("latin-1") if may_hold(value, secret) else value
    if isinstance(value, dict):
        return {redact(key, secret): redact(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, secret) for item in value]
    return value


def redact_decoded(value: Any, body: bytes, secret: str) -> Any:
    """
    :func:`redact` for ``value``, decoded from ``body`` (JSON, text or the bytes themselves), without walking it
    when it cannot hold the key in any form :func:`redact` finds (see :func:`may_hold`): a body without the key's
    bytes or base64 runs, without escapes (backslashes: JSON's ``\\u``), without ``%`` (percent-encoding), ``&``
    (HTML entities) and NUL bytes (JSON in UTF-16 or UTF-32) decodes to strings that are byte-for-byte parts of
    it. A 2,048-vector answer is then returned as decoded, not copied.

    :param value: the decoded body.
    :param body: the bytes it was decoded from.
    :param secret: the API key.
    """
    if not secret or not may_hold(body, secret):
        return value
    return redact(value, secret)

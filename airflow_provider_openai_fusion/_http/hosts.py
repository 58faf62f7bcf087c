"""
Host names compared as they are reached: one canonical form, and what counts as this machine.

Standard library only (no Airflow, no httpx): the model checks import it at DAG-parse time.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

_HOST_CHARS = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_IDEOGRAPHIC_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def canonical_host(hostname: str) -> str:
    """
    The host name as it is reached: NFKC-normalised (full-width letters and dots become ASCII), ideographic dots
    (``。``) read as dots, IDNA-encoded (``xn--`` labels), lower case, without the trailing dot of a fully
    qualified name (``api.openai.com.`` is ``api.openai.com``). An IPv6 address (no brackets) is returned in its
    compressed form. Raises ``ValueError`` for anything that is not a host name (empty labels, ``%``, spaces).

    :param hostname: the host of a URL, without brackets or port.
    """
    if ":" in hostname:
        return str(ipaddress.IPv6Address(hostname.split("%", 1)[0]))
    text = unicodedata.normalize("NFKC", hostname).translate(_IDEOGRAPHIC_DOTS).lower()
    text = text[:-1] if text.endswith(".") else text
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise ValueError(f"{hostname!r} is not a valid host name") from None
    if len(text) > 253 or not _HOST_CHARS.fullmatch(text):
        raise ValueError(f"{hostname!r} is not a valid host name")
    return text


def is_local_host(hostname: str) -> bool:
    """
    Whether ``hostname`` (canonical, see :func:`canonical_host`) is this machine: exactly ``localhost``, or a
    loopback address (127.0.0.0/8, ``::1``). ``evil.localhost`` is not: it is resolved through DNS like any name.

    :param hostname: the canonical host name.
    """
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False

"""The Connection's fields validated into :class:`~airflow_provider_openai_fusion._http.request.ClientSettings`."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_openai_fusion._http.hosts import canonical_host, is_local_host
from airflow_provider_openai_fusion._http.request import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientSettings,
)
from airflow_provider_openai_fusion.exceptions import ConnectionConfigError

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.pricing import Price

KNOWN_EXTRAS = (
    "organization_id",
    "project_id",
    "timeout",
    "max_retries",
    "allow_insecure_http",
    "prices",
    "admin_api_key",
    "webhook_secret",
)
OPENAI_HOSTS = ("openai.com", "api.openai.com")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_number(conn_id: str, name: str, value: Any, kind: type[int] | type[float]) -> int | float:
    try:
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise ConnectionConfigError(conn_id, name, f"must be a {kind.__name__}, got {value!r}") from None
    if isinstance(value, bool) or (isinstance(value, float) and value != number):
        raise ConnectionConfigError(conn_id, name, f"must be a {kind.__name__}, got {value!r}")
    if not math.isfinite(number) or number < 0 or (kind is float and number == 0):
        raise ConnectionConfigError(conn_id, name, f"must be a positive {kind.__name__}, got {value!r}")
    return number


def _flag(conn_id: str, name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ConnectionConfigError(conn_id, name, f"must be true or false, got {value!r}")


def _host_of(conn_id: str, url: str) -> str:
    """The canonical host of ``url`` (see ``canonical_host``; empty when it has none), or an error naming ``host``."""
    hostname = urlsplit(url).hostname
    if not hostname:
        return ""
    try:
        return canonical_host(hostname)
    except ValueError as exc:
        raise ConnectionConfigError(conn_id, "host", f"Base URL: {exc}") from None


def base_url_from_connection(
    conn_id: str, host: str | None, schema: str | None, port: int | None, allow_insecure_http: bool = False
) -> str:
    """
    Build the base URL from the Connection's host (plus the path and port of a URI-form connection).

    A host without a scheme (what a URI-form connection such as ``openai_fusion://:sk-...@api.example.com/v1``
    stores) gets ``https``, or ``http`` for a local host; the URI's path, which Airflow stores in ``schema``,
    becomes the URL's path. The host is compared, and kept, in its canonical form (IDNA, lower case, no trailing
    dot: ``api.openai.com.`` and ``api.openai。com`` are ``api.openai.com``). ``http://`` is refused for any host
    but ``localhost`` and loopback addresses (``evil.localhost`` is not local: DNS resolves it) unless
    ``allow_insecure_http``, and always for OpenAI's own hosts.

    :param conn_id: the connection id, for error messages.
    :param host: the Base URL field; empty means OpenAI's.
    :param schema: the path of a URI-form connection (Airflow's ``schema`` field).
    :param port: the connection's port, used when the host has none.
    :param allow_insecure_http: the ``allow_insecure_http`` extra.
    """
    if _blank(host):
        return DEFAULT_BASE_URL
    raw = (host or "").strip()
    if "://" not in raw:
        raw = f"{'http' if is_local_host(_host_of(conn_id, f'//{raw}')) else 'https'}://{raw}"
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionConfigError(conn_id, "host", f"Base URL must be an http(s) URL such as {DEFAULT_BASE_URL}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConnectionConfigError(conn_id, "host", "Base URL must not carry credentials, a query or a fragment")
    hostname = _host_of(conn_id, raw)
    if scheme == "http":
        if hostname in OPENAI_HOSTS or hostname.endswith(".openai.com"):
            raise ConnectionConfigError(conn_id, "host", "OpenAI is reached over https only; use https://")
        if not is_local_host(hostname) and not allow_insecure_http:
            raise ConnectionConfigError(
                conn_id,
                "host",
                "http:// would send the API key unencrypted; use https://, or set the extra allow_insecure_http "
                "to true for a server on a network you trust",
            )
    try:
        given_port = parts.port
    except ValueError:
        raise ConnectionConfigError(conn_id, "host", "Base URL has a port that is not a number 0-65535") from None
    netloc = f"[{hostname}]" if ":" in hostname else hostname
    if given_port is not None or port:
        netloc = f"{netloc}:{given_port if given_port is not None else port}"
    path = parts.path.rstrip("/")
    if not _blank(schema):
        extra_path = "/" + (schema or "").strip().strip("/")
        if path and path != extra_path:
            raise ConnectionConfigError(
                conn_id, "schema", f"the Base URL has the path {path!r} and the connection also gives {extra_path!r}"
            )
        path = extra_path
    return f"{scheme}://{netloc}{path}"


def api_key_from_password(conn_id: str, password: str | None) -> str:
    """
    The API key as it will be sent: surrounding whitespace stripped, then printable ASCII with nothing blank
    inside. The error never repeats the key.

    :param conn_id: the connection id, for error messages.
    :param password: the API Key field.
    """
    if _blank(password):
        raise ConnectionConfigError(
            conn_id, "password", "the API Key is empty; set it in the connection's API Key field"
        )
    key = (password or "").strip()
    if not _PRINTABLE.fullmatch(key):
        raise ConnectionConfigError(
            conn_id,
            "password",
            "the API Key holds a space, a line break or a non-ASCII character (pasted wrapped?); "
            "paste it again as one line",
        )
    return key


def prices_from_connection(conn_id: str, extra: Mapping[str, Any]) -> Mapping[str, Price]:
    """
    The connection's ``prices`` extra (JSON: model -> prices), parsed; empty when unset.

    :param conn_id: the connection id, for error messages.
    :param extra: the connection's extras.
    """
    from airflow_provider_openai_fusion.pricing import parse_prices

    value = extra.get("prices")
    if _blank(value) or value == {}:
        return {}
    try:
        return parse_prices(value)
    except ValueError as exc:
        raise ConnectionConfigError(conn_id, "prices", str(exc)) from None


def admin_key_from_connection(conn_id: str, extra: Mapping[str, Any]) -> str:
    """
    The ``admin_api_key`` extra as it will be sent (for the organization Usage and Costs APIs only); the error
    never repeats the key.

    :param conn_id: the connection id, for error messages.
    :param extra: the connection's extras.
    """
    value = extra.get("admin_api_key")
    if _blank(value):
        raise ConnectionConfigError(
            conn_id,
            "admin_api_key",
            "is empty; the organization Usage and Costs APIs need an admin key (sk-admin-...) in this field",
        )
    key = str(value).strip()
    if not _PRINTABLE.fullmatch(key):
        raise ConnectionConfigError(
            conn_id, "admin_api_key", "holds a space, a line break or a non-ASCII character; paste it again as one line"
        )
    return key


def webhook_secrets(value: Any) -> list[str]:
    """
    The secrets of the ``webhook_secret`` extra: one ``whsec_...`` secret, or several separated by spaces or commas
    while a secret is being rotated (a webhook signed with any of them is accepted). Only the webhook receiver
    reads it; the API client ignores it.

    :param value: the extra's value (``None`` or blank: no secret).
    """
    if _blank(value) or not isinstance(value, str):
        return []
    return [secret for secret in re.split(r"[\s,]+", value.strip()) if secret]


def _header_value(conn_id: str, name: str, value: Any) -> str:
    text = str(value).strip()
    if not _PRINTABLE.fullmatch(text):
        raise ConnectionConfigError(conn_id, name, "must be printable ASCII without spaces")
    return text


def settings_from_connection(
    conn_id: str,
    *,
    host: str | None,
    password: str | None,
    extra: Mapping[str, Any],
    schema: str | None = None,
    port: int | None = None,
) -> ClientSettings:
    """
    Validate a Connection's fields into :class:`ClientSettings`.

    Extras may arrive as strings (the CLI stores numbers as text); empty values count as unset; an unknown
    extra key is an error naming it, so that a typo cannot pass silently.

    :param conn_id: the connection id, for error messages.
    :param host: the Base URL field.
    :param password: the API Key field.
    :param extra: the connection's extras.
    :param schema: the connection's schema: the path of a URI-form connection.
    :param port: the connection's port (URI-style connections only).
    """
    unknown = sorted(set(extra) - set(KNOWN_EXTRAS))
    if unknown:
        raise ConnectionConfigError(
            conn_id, unknown[0], f"unknown extra field; the known ones are {', '.join(KNOWN_EXTRAS)}"
        )
    api_key = api_key_from_password(conn_id, password)
    prices_from_connection(conn_id, extra)
    values = {name: value for name, value in extra.items() if not _blank(value)}
    insecure = _flag(conn_id, "allow_insecure_http", values.get("allow_insecure_http", False))
    return ClientSettings(
        base_url=base_url_from_connection(conn_id, host, schema, port, insecure),
        api_key=api_key,
        organization_id=_header_value(conn_id, "organization_id", values["organization_id"])
        if "organization_id" in values
        else None,
        project_id=_header_value(conn_id, "project_id", values["project_id"]) if "project_id" in values else None,
        timeout=float(_parse_number(conn_id, "timeout", values.get("timeout", DEFAULT_TIMEOUT), float)),
        max_retries=int(_parse_number(conn_id, "max_retries", values.get("max_retries", DEFAULT_MAX_RETRIES), int)),
    )

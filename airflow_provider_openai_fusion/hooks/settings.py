"""The Connection's fields validated into :class:`~airflow_provider_openai_fusion._http.request.ClientSettings`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_openai_fusion._http.request import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientSettings,
)
from airflow_provider_openai_fusion.exceptions import ConnectionConfigError

KNOWN_EXTRAS = ("organization_id", "project_id", "timeout", "max_retries")


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


def base_url_from_connection(conn_id: str, host: str | None, schema: str | None, port: int | None) -> str:
    """
    Build the base URL from the Connection's host (plus schema and port, if a URI-style connection set them).

    :param conn_id: the connection id, for error messages.
    :param host: the Base URL field; empty means OpenAI's.
    :param schema: the connection's schema, used as the URL scheme when the host has none.
    :param port: the connection's port, used when the host has none.
    """
    if _blank(host):
        return DEFAULT_BASE_URL
    raw = host.strip()
    if "://" not in raw:
        raw = f"{(schema or 'https').strip()}://{raw}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionConfigError(conn_id, "host", f"Base URL must be an http(s) URL such as {DEFAULT_BASE_URL}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConnectionConfigError(conn_id, "host", "Base URL must not carry credentials, a query or a fragment")
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


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
    :param schema: the connection's schema (URI-style connections only).
    :param port: the connection's port (URI-style connections only).
    """
    unknown = sorted(set(extra) - set(KNOWN_EXTRAS))
    if unknown:
        raise ConnectionConfigError(
            conn_id, unknown[0], f"unknown extra field; the known ones are {', '.join(KNOWN_EXTRAS)}"
        )
    if _blank(password):
        raise ConnectionConfigError(
            conn_id, "password", "the API Key is empty; set it in the connection's API Key field"
        )
    values = {name: value for name, value in extra.items() if not _blank(value)}
    return ClientSettings(
        base_url=base_url_from_connection(conn_id, host, schema, port),
        api_key=password.strip(),
        organization_id=str(values["organization_id"]).strip() if "organization_id" in values else None,
        project_id=str(values["project_id"]).strip() if "project_id" in values else None,
        timeout=float(_parse_number(conn_id, "timeout", values.get("timeout", DEFAULT_TIMEOUT), float)),
        max_retries=int(_parse_number(conn_id, "max_retries", values.get("max_retries", DEFAULT_MAX_RETRIES), int)),
    )

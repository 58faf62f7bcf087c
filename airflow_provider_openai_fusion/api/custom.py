"""Fusion's "Make a custom API call": any path under the Base URL, with its arguments checked before sending."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_openai_fusion._http.request import RequestSpec, check_header, relative_path
from airflow_provider_openai_fusion.api._base import choice, json_object, json_value
from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""The largest answer a custom call reads: its body goes into XCom, so a larger one is an error, not truncated."""
_SCALARS = (str, int, float, bool)


def _headers(value: Any) -> dict[str, str] | None:
    headers = json_object(value, "headers")
    for name, header in (headers or {}).items():
        if not isinstance(header, _SCALARS):
            raise InvalidArgumentError("headers", f"header {name!r} must be text or a number, got {header!r}")
        check_header(name, str(header))
    return {name: str(header) for name, header in headers.items()} if headers else None


def _query(value: Any) -> dict[str, Any] | None:
    query = json_object(value, "query")
    for name, item in (query or {}).items():
        items = item if isinstance(item, list) else [item]
        if not all(isinstance(element, _SCALARS) for element in items):
            raise InvalidArgumentError("query", f"parameter {name!r} must be text, a number or a list of them")
    return query or None


def _body(value: Any) -> Any:
    body = json_value(value, "body")
    if body is not None and not isinstance(body, Mapping | list):
        raise InvalidArgumentError("body", f"must be a JSON object or array, got {type(body).__name__}")
    return body


def custom_call(method: Any, url: Any, headers: Any = None, query: Any = None, body: Any = None) -> RequestSpec:
    """
    Check a custom call's arguments (each error names its argument) and describe the call.

    :param method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE`` (any case).
    :param url: the path relative to the Base URL.
    :param headers: extra headers: a dict or JSON text.
    :param query: query parameters: a dict or JSON text.
    :param body: the JSON body: a dict, a list, or JSON text; not with ``GET``.
    """
    verb = choice("method", method.upper() if isinstance(method, str) else method, METHODS)
    path = relative_path(url, "url")
    checked_headers, checked_query, checked_body = _headers(headers), _query(query), _body(body)
    if checked_body is not None and verb == "GET":
        raise InvalidArgumentError("body", "a GET request carries no body; pass parameters as 'query'")
    return RequestSpec(
        verb, path, json=checked_body, params=checked_query, headers=checked_headers, max_bytes=MAX_ANSWER_BYTES
    )

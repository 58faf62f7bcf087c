"""Fusion's "Make a custom API call" module: any endpoint under the connection's Base URL, key added for you."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator, choice

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DROPPED_RESPONSE_HEADERS = frozenset({"set-cookie", "set-cookie2", "authorization", "proxy-authenticate"})
_SCALARS = (str, int, float, bool)


def _parse_json(value: Any, argument: str) -> Any:
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise InvalidArgumentError(argument, f"is not valid JSON: {exc.msg} at position {exc.pos}") from None


def _json_object(value: Any, argument: str) -> dict[str, Any] | None:
    parsed = _parse_json(value, argument)
    if parsed is None:
        return None
    if not isinstance(parsed, Mapping):
        raise InvalidArgumentError(argument, f"must be a JSON object (a dict), got {type(parsed).__name__}")
    return dict(parsed)


def _headers(value: Any) -> dict[str, str] | None:
    headers = _json_object(value, "headers")
    for name, header in (headers or {}).items():
        if name.lower() == "authorization":
            raise InvalidArgumentError("headers", "must not set Authorization; the connection's API Key is added")
        if not isinstance(header, _SCALARS):
            raise InvalidArgumentError("headers", f"header {name!r} must be text or a number, got {header!r}")
    return {name: str(header) for name, header in headers.items()} if headers else None


def _query(value: Any) -> dict[str, Any] | None:
    query = _json_object(value, "query")
    for name, item in (query or {}).items():
        items = item if isinstance(item, list) else [item]
        if not all(isinstance(element, _SCALARS) for element in items):
            raise InvalidArgumentError("query", f"parameter {name!r} must be text, a number or a list of them")
    return query or None


def _body(value: Any) -> Any:
    body = _parse_json(value, "body")
    if body is not None and not isinstance(body, Mapping | list):
        raise InvalidArgumentError("body", f"must be a JSON object or array, got {type(body).__name__}")
    return body


def decode_body(content: bytes, content_type: str) -> Any:
    """
    The response body for XCom: decoded JSON when it is JSON, text when it is text; ``None`` for binary content
    (which never goes into XCom).

    :param content: the body.
    :param content_type: the ``content-type`` header.
    """
    if not content:
        return None
    if "json" in content_type:
        try:
            return json.loads(content)
        except ValueError:
            pass
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


class OpenAICustomAPICallOperator(OpenAIFusionBaseOperator):
    """
    Call any endpoint of the API: the connection's key (and organization, project) is added automatically, and
    the call can only go to the connection's Base URL.

    :param url: the path relative to the connection's Base URL, e.g. ``models`` or ``/files`` (a leading ``/``
        is still relative to it); absolute and scheme-relative URLs, ``..`` and queries are refused. (templated)
    :param method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
    :param headers: extra request headers (a dict or JSON text); ``Authorization`` may not be set. (templated)
    :param query: query parameters (a dict or JSON text). (templated)
    :param body: the JSON body (a dict, a list, or JSON text); not allowed with ``GET``. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``{"status_code", "headers", "body"}``: the response headers without cookies, the body decoded
        when JSON, else text; ``None`` for a binary body.
    """

    template_fields: Sequence[str] = ("conn_id", "url", "headers", "query", "body")
    template_fields_renderers = {"headers": "json", "query": "json", "body": "json"}

    def __init__(
        self,
        *,
        url: str,
        method: str = "GET",
        headers: dict[str, Any] | str | None = None,
        query: dict[str, Any] | str | None = None,
        body: dict[str, Any] | list[Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.method = method
        self.headers = headers
        self.query = query
        self.body = body

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion._core import REDACTED, RequestSpec, relative_path

        method = choice("method", self.method.upper() if isinstance(self.method, str) else self.method, METHODS)
        path = relative_path(self.url, "url")
        headers = _headers(self.headers)
        query = _query(self.query)
        body = _body(self.body)
        if body is not None and method == "GET":
            raise InvalidArgumentError("body", "a GET request carries no body; pass parameters as 'query'")
        answer = self.hook.request_raw(RequestSpec(method, path, json=body, params=query, headers=headers))
        key = self.hook.settings.api_key
        response_headers = {
            name: value.replace(key, REDACTED)
            for name, value in answer.headers.items()
            if name.lower() not in DROPPED_RESPONSE_HEADERS
        }
        decoded = decode_body(
            answer.content.replace(key.encode(), REDACTED.encode()), answer.headers.get("content-type", "")
        )
        if decoded is None and answer.content:
            self.log.warning("The %d-byte binary body is not put into XCom", len(answer.content))
        self.log.info("%s %s: HTTP %d", method, path, answer.status_code)
        return {"status_code": answer.status_code, "headers": response_headers, "body": decoded}

"""Fusion's "Make a custom API call" module: any endpoint under the connection's Base URL, key added for you."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

DROPPED_RESPONSE_HEADERS = frozenset({"set-cookie", "set-cookie2", "authorization", "proxy-authenticate"})


class OpenAICustomAPICallOperator(OpenAIFusionBaseOperator):
    """
    Call any endpoint of the API: the connection's key (and organization, project) is added automatically, and
    the call can only go to the connection's Base URL.

    :param url: the path relative to the connection's Base URL, e.g. ``models`` or ``/files`` (a leading ``/``
        is still relative to it); absolute and scheme-relative URLs, ``..`` and queries are refused. (templated)
    :param method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
    :param headers: extra request headers (a dict or JSON text): ``Accept``, ``Accept-Language``,
        ``Content-Type``, ``Idempotency-Key``, ``OpenAI-Beta`` and ``X-*`` headers; headers that could change
        where the request goes, its framing or who sends it (``Host``, ``X-Forwarded-*``, ``Content-Length``,
        ``Cookie``, ``Authorization``, ``OpenAI-Organization``, ...) are refused before sending. (templated)
    :param query: query parameters (a dict or JSON text). (templated)
    :param body: the JSON body (a dict, a list, or JSON text); not allowed with ``GET``. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``{"status_code", "headers", "body"}``: the response headers without cookies, the body decoded
        when JSON, else text; ``None`` for a binary body. An answer over 16 MiB fails the task (it is not
        truncated): a body that large does not belong in XCom; download it with the hook instead.
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
        from airflow_provider_openai_fusion.api.custom import custom_call

        spec = custom_call(self.method, self.url, self.headers, self.query, self.body)
        answer = self.hook.send(spec)
        headers = {name: value for name, value in answer.headers.items() if name not in DROPPED_RESPONSE_HEADERS}
        body = answer.body
        if isinstance(body, bytes):
            self.log.warning("The %d-byte binary body is not put into XCom", len(body))
            body = None
        self.log.info("%s: HTTP %d", spec.label, answer.status_code)
        return {"status_code": answer.status_code, "headers": headers, "body": body}

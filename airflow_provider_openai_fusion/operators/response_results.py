"""
Result only: fetch a background response that already ended, by its id (e.g. in a DAG scheduled on the
``response.completed`` webhook), and check and parse it as the response operator does when it waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator


class OpenAIResponseResultOperator(OpenAIFusionBaseOperator):
    """
    Retrieve a finished model response (GET /responses/{id}) and return it like
    :class:`~airflow_provider_openai_fusion.operators.responses.OpenAIResponseOperator`: with ``output_text`` and,
    given ``text_format``, ``output_parsed`` (validated against the model or schema). ``failed`` and ``cancelled``
    fail the task with the response's error, ``incomplete`` too unless ``allow_incomplete``; a response that has
    not ended fails it (this operator does not wait).

    :param response_id: the response id, e.g. a webhook event's ``object_id`` or a submitting task's XCom ``id``.
        (templated)
    :param text_format: the structured output format the response was created with: a pydantic model class, a
        JSON schema dict or ``"package.module:ClassName"``. (templated, except a class)
    :param allow_incomplete: return an ``incomplete`` response instead of failing.
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: the API response plus ``output_text`` and, with ``text_format``, ``output_parsed``.
    """

    template_fields: Sequence[str] = ("conn_id", "response_id", "text_format")

    def __init__(
        self,
        *,
        response_id: str,
        text_format: Any = None,
        allow_incomplete: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.response_id = response_id
        # Airflow calls a callable template field with the context; a class is one, so it is kept aside.
        self.text_format = None if isinstance(text_format, type) else text_format
        self._text_format_class = text_format if isinstance(text_format, type) else None
        self.allow_incomplete = allow_incomplete

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion._waiting import event_for, finish
        from airflow_provider_openai_fusion.api._base import required
        from airflow_provider_openai_fusion.api._structured import structured_format
        from airflow_provider_openai_fusion.api.responses import (
            BackgroundResponses,
            check_refusal,
            parse_output,
            retrieve_response,
            short_output_text,
        )

        required("response_id", self.response_id, "a result-only task")
        structured = structured_format(self._text_format_class or self.text_format)
        kind = BackgroundResponses(allow_incomplete=bool(self.allow_incomplete))
        response = self.hook.request(retrieve_response(str(self.response_id).strip()))
        if response.get("status") not in kind.terminal:
            raise InvalidArgumentError(
                "response_id",
                f"response {response.get('id')} is {response.get('status')!r}, not finished; schedule on the "
                "response.completed webhook, or use OpenAIResponseOperator(background=True) to wait",
            )
        self.log.info("Response %s %s", response.get("id"), response.get("status"))
        self.log_usage(response)
        response = finish(kind, event_for(kind, response))
        check_refusal(response)
        result = {**response, "output_text": short_output_text(response, self.log)}
        if structured is not None:
            result["output_parsed"] = parse_output(response, structured)
        return result

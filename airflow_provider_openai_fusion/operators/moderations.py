"""Fusion's "Create a moderation" module (POST /moderations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from airflow.sdk import Context

from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator


class OpenAIModerationOperator(OpenAIFusionBaseOperator):
    """
    Classify text (and images) for policy violations (POST /moderations).

    :param input: a text, a list of texts, or a list of content parts (``{"type": "text", "text": ...}``,
        ``{"type": "image_url", "image_url": {"url": ...}}``), or JSON text of such a list. (templated)
    :param model: the moderation model; empty means the API's default (``omni-moderation-latest``). (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: the API response (a dict with one ``results`` entry per input).
    """

    template_fields: Sequence[str] = ("conn_id", "input", "model")
    template_fields_renderers = {"input": "json"}

    def __init__(self, *, input: str | list[Any], model: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input = input
        self.model = model

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import request_body, required, text_or_list
        from airflow_provider_openai_fusion.api.moderations import ModerationRequest, create_moderation

        value = required("input", text_or_list(self.input), "a moderation")
        body = request_body(ModerationRequest, {"input": value, "model": self.model})
        self.check_model(body.get("model"))
        response = self.hook.request(create_moderation(body))
        self.log_usage(response, body.get("model") or "omni-moderation-latest", free_call=True)
        results = response.get("results") or []
        flagged = [str(i) for i, result in enumerate(results) if result.get("flagged")]
        self.log.info(
            "Moderation %s: %d of %d inputs flagged%s",
            response.get("id"),
            len(flagged),
            len(results),
            f" (inputs {', '.join(flagged)})" if flagged else "",
        )
        return cast("dict[str, Any]", response)

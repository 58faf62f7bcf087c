"""Fusion's "Create a completion" module (the legacy /completions API, still served by compatible servers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from airflow.sdk import Context

from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator, short


class OpenAICompletionOperator(OpenAIFusionBaseOperator):
    """
    Create a completion (POST /completions: the legacy API, still served by OpenAI and compatible servers).

    :param model: the model id, e.g. ``gpt-oss-20b`` on a compatible server (OpenAI shut down
        ``gpt-3.5-turbo-instruct``, its last completions model, on 2026-09-28). (templated)
    :param prompt: the prompt: text, a list of texts, or token arrays. (templated)
    :param temperature: sampling temperature, 0 to 2.
    :param advanced: any other field of the API request, e.g. ``{"max_tokens": 64, "stop": ["\\n"]}``. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: the API response (a dict).
    """

    template_fields: Sequence[str] = ("conn_id", "model", "prompt", "advanced")
    template_fields_renderers = {"prompt": "json", "advanced": "json"}

    def __init__(
        self,
        *,
        model: str,
        prompt: str | list[Any],
        temperature: float | None = None,
        advanced: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.prompt = prompt
        self.temperature = temperature
        self.advanced = advanced

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion import _budget
        from airflow_provider_openai_fusion.api._base import request_body
        from airflow_provider_openai_fusion.api.completions import CompletionRequest, create_completion

        named = {"model": self.model, "prompt": self.prompt, "temperature": self.temperature}
        body = request_body(CompletionRequest, named, self.advanced)
        self.check_model(body.get("model"))
        self.check_budget(_budget.completion, body)
        response = self.hook.request(create_completion(body))
        first = (response.get("choices") or [{}])[0]
        self.log.info("Completion %s: %r", response.get("id"), short(first.get("text")))
        self.log_usage(response)
        return cast("dict[str, Any]", response)

"""Fusion's "Create a chat completion" and "Create an edit" modules (POST /chat/completions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from airflow.sdk import Context

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator, short


def _log_chat(operator: OpenAIFusionBaseOperator, response: dict[str, Any]) -> None:
    message = ((response.get("choices") or [{}])[0]).get("message") or {}
    text = message.get("content") or message.get("refusal") or message.get("tool_calls")
    operator.log.info("Chat completion %s: %r", response.get("id"), short(text))
    operator.log_usage(response)


def _tiers(operator: Any) -> dict[str, Any]:
    from airflow_provider_openai_fusion.operators._tiers import tier_fields

    return tier_fields(
        operator.service_tier, operator.prompt_cache_key, operator.prompt_cache_retention, bool(operator.flex_fallback)
    )


def _send(operator: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Check the budgets, then send the chat completion (falling back from flex once when asked)."""
    from airflow_provider_openai_fusion import _budget
    from airflow_provider_openai_fusion.api.chat import create_chat_completion
    from airflow_provider_openai_fusion.operators._tiers import send_tiered

    operator.check_budget(_budget.chat, body)
    return cast(
        "dict[str, Any]",
        send_tiered(operator, create_chat_completion, body, bool(operator.flex_fallback), _budget.chat),
    )


class OpenAIChatCompletionOperator(OpenAIFusionBaseOperator):
    """
    Create a chat completion (POST /chat/completions).

    :param model: the model id, e.g. ``gpt-5.6-luna``. (templated)
    :param messages: the conversation: a list of ``{"role", "content"}`` dicts (roles ``system``,
        ``developer``, ``user``, ``assistant``, ``tool``, ``function``), or JSON text of such a list. (templated)
    :param temperature: sampling temperature, 0 to 2.
    :param advanced: any other field of the API request, e.g. ``{"max_completion_tokens": 200,
        "response_format": {"type": "json_object"}}``. (templated)
    :param service_tier: ``auto``, ``default``, ``flex`` (half price, slower, may be unavailable; the client timeout
        becomes 15 minutes unless the connection sets one) or ``priority``.
    :param flex_fallback: with ``service_tier="flex"``, send the request once more on the default tier when flex
        answers 429 ``resource_unavailable`` or times out (logged; each answer priced at its tier).
    :param prompt_cache_key: groups requests sharing a prompt prefix for better cache hits (cached input tokens are
        billed at the cached rate). (templated)
    :param prompt_cache_retention: ``in_memory`` or ``24h``.
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: the API response (a dict).
    """

    template_fields: Sequence[str] = ("conn_id", "model", "messages", "advanced", "prompt_cache_key")
    template_fields_renderers = {"messages": "json", "advanced": "json"}

    def __init__(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]] | str,
        temperature: float | None = None,
        advanced: dict[str, Any] | str | None = None,
        service_tier: str | None = None,
        flex_fallback: bool = False,
        prompt_cache_key: str | None = None,
        prompt_cache_retention: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service_tier = service_tier
        self.flex_fallback = flex_fallback
        self.prompt_cache_key = prompt_cache_key
        self.prompt_cache_retention = prompt_cache_retention
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.advanced = advanced

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import json_list, request_body, required
        from airflow_provider_openai_fusion.api.chat import ChatCompletionRequest

        messages = required("messages", json_list(self.messages, "messages"), "a chat completion")
        named = {"model": self.model, "messages": messages, "temperature": self.temperature, **_tiers(self)}
        body = request_body(ChatCompletionRequest, named, self.advanced)
        self.check_model(body.get("model"))
        response = _send(self, body)
        _log_chat(self, response)
        return response


class OpenAIEditOperator(OpenAIFusionBaseOperator):
    """
    Fusion's "Create an edit": rewrite ``input`` following ``instruction``.

    The ``/edits`` endpoint no longer exists, so this runs a chat completion: ``instruction`` is the system
    message and ``input`` the user message (with no ``input``, the instruction alone is the user message).

    :param model: the chat model id, e.g. ``gpt-5.6-luna``. (templated)
    :param instruction: how to edit, e.g. ``"Fix the spelling mistakes."``. (templated)
    :param input: the text to edit. (templated)
    :param temperature: sampling temperature, 0 to 2.
    :param advanced: any other field of the chat-completion request. (templated)
    :param service_tier: ``auto``, ``default``, ``flex`` (half price, slower, may be unavailable; the client timeout
        becomes 15 minutes unless the connection sets one) or ``priority``.
    :param flex_fallback: with ``service_tier="flex"``, send the request once more on the default tier when flex
        answers 429 ``resource_unavailable`` or times out (logged; each answer priced at its tier).
    :param prompt_cache_key: groups requests sharing a prompt prefix for better cache hits (cached input tokens are
        billed at the cached rate). (templated)
    :param prompt_cache_retention: ``in_memory`` or ``24h``.
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: the chat-completion response (a dict).
    """

    template_fields: Sequence[str] = ("conn_id", "model", "instruction", "input", "advanced", "prompt_cache_key")
    template_fields_renderers = {"advanced": "json"}

    def __init__(
        self,
        *,
        model: str,
        instruction: str,
        input: str | None = None,
        temperature: float | None = None,
        advanced: dict[str, Any] | str | None = None,
        service_tier: str | None = None,
        flex_fallback: bool = False,
        prompt_cache_key: str | None = None,
        prompt_cache_retention: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service_tier = service_tier
        self.flex_fallback = flex_fallback
        self.prompt_cache_key = prompt_cache_key
        self.prompt_cache_retention = prompt_cache_retention
        self.model = model
        self.instruction = instruction
        self.input = input
        self.temperature = temperature
        self.advanced = advanced

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import request_body, required
        from airflow_provider_openai_fusion.api.chat import ChatCompletionRequest

        instruction = required("instruction", self.instruction, "an edit")
        if not isinstance(instruction, str):
            raise InvalidArgumentError("instruction", f"must be text, got {type(instruction).__name__}")
        if self.input is not None and not isinstance(self.input, str):
            raise InvalidArgumentError("input", f"must be text, got {type(self.input).__name__}")
        if self.input:
            messages = [{"role": "system", "content": instruction}, {"role": "user", "content": self.input}]
        else:
            messages = [{"role": "user", "content": instruction}]
        named = {"model": self.model, "messages": messages, "temperature": self.temperature, **_tiers(self)}
        body = request_body(ChatCompletionRequest, named, self.advanced)
        self.check_model(body.get("model"))
        response = _send(self, body)
        _log_chat(self, response)
        return response

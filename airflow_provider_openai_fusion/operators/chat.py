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
    :param items: bulk mode: one request per item, sent concurrently at the rate limit's speed, answers written to
        ``output_path``. An item is a text (the user message, after ``messages``) or a request object (fields
        merged over the named arguments, e.g. ``{"custom_id": "t-1", "messages": [...]}``). (templated)
    :param items_path: bulk mode: a JSON-lines file of items (local path or ``ObjectStoragePath`` URI). (templated)
    :param output_path: bulk mode: the JSON-lines file of answers, one line per item in input order, in the Batch
        API's output shape. (templated)
    :param on_error: bulk mode: ``fail`` (default: the task fails once the output is written, and its retry sends
        only the failed items) or ``record`` (failed items stay as error lines; the task succeeds).
    :param max_concurrency: bulk mode: the most requests in flight (default 8, at most 64).
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: the API response (a dict); in bulk mode ``{"path", "count", "succeeded", "failed", "not_sent",
        "reused", "usage"}``.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "model",
        "messages",
        "advanced",
        "prompt_cache_key",
        "items",
        "items_path",
        "output_path",
    )
    template_fields_renderers = {"messages": "json", "advanced": "json", "items": "json"}

    def __init__(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]] | str | None = None,
        temperature: float | None = None,
        advanced: dict[str, Any] | str | None = None,
        service_tier: str | None = None,
        flex_fallback: bool = False,
        prompt_cache_key: str | None = None,
        prompt_cache_retention: str | None = None,
        items: list[Any] | str | None = None,
        items_path: str | None = None,
        output_path: str | None = None,
        on_error: str = "fail",
        max_concurrency: int = 8,
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
        self.items = items
        self.items_path = items_path
        self.output_path = output_path
        self.on_error = on_error
        self.max_concurrency = max_concurrency

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import json_list, request_body, required
        from airflow_provider_openai_fusion.api.chat import ChatCompletionRequest
        from airflow_provider_openai_fusion.operators._bulk import bulk_requested

        if bulk_requested(self.items, self.items_path):
            return self._execute_bulk()
        messages = required("messages", json_list(self.messages, "messages"), "a chat completion")
        named = {"model": self.model, "messages": messages, "temperature": self.temperature, **_tiers(self)}
        body = request_body(ChatCompletionRequest, named, self.advanced)
        self.check_model(body.get("model"))
        response = _send(self, body)
        _log_chat(self, response)
        return response

    def _execute_bulk(self) -> dict[str, Any]:
        from airflow_provider_openai_fusion import _budget
        from airflow_provider_openai_fusion.api._base import json_list, request_body
        from airflow_provider_openai_fusion.api.chat import ChatCompletionRequest, create_chat_completion
        from airflow_provider_openai_fusion.operators._bulk import execute_bulk

        prefix = json_list(self.messages, "messages") or []
        named = {"model": self.model, "temperature": self.temperature, **_tiers(self)}

        def build(item: Any) -> dict[str, Any]:
            if isinstance(item, str):
                item = {"messages": [*prefix, {"role": "user", "content": item}]}
            if not isinstance(item, dict):
                raise InvalidArgumentError("item", f"must be text or a request object, got {type(item).__name__}")
            return request_body(ChatCompletionRequest, {"messages": prefix or None, **named, **item}, self.advanced)

        return execute_bulk(self, build, create_chat_completion, _budget.chat, "chat/completions")


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

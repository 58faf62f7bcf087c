"""Fusion's "Create a chat completion" and "Create an edit" modules (POST /chat/completions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator, short


def _log_chat(operator: OpenAIFusionBaseOperator, response: dict[str, Any]) -> None:
    message = ((response.get("choices") or [{}])[0]).get("message") or {}
    text = message.get("content") or message.get("refusal") or message.get("tool_calls")
    operator.log.info("Chat completion %s: %r", response.get("id"), short(text))
    operator.log_usage(response)


class OpenAIChatCompletionOperator(OpenAIFusionBaseOperator):
    """
    Create a chat completion (POST /chat/completions).

    :param model: the model id, e.g. ``gpt-5.6-luna``. (templated)
    :param messages: the conversation: a list of ``{"role", "content"}`` dicts (roles ``system``,
        ``developer``, ``user``, ``assistant``, ``tool``, ``function``), or JSON text of such a list. (templated)
    :param temperature: sampling temperature, 0 to 2.
    :param advanced: any other field of the API request, e.g. ``{"max_completion_tokens": 200,
        "response_format": {"type": "json_object"}}``. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: the API response (a dict).
    """

    template_fields: Sequence[str] = ("conn_id", "model", "messages", "advanced")
    template_fields_renderers = {"messages": "json", "advanced": "json"}

    def __init__(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]] | str,
        temperature: float | None = None,
        advanced: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.advanced = advanced

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import json_list, request_body, required
        from airflow_provider_openai_fusion.api.chat import ChatCompletionRequest, create_chat_completion

        messages = required("messages", json_list(self.messages, "messages"), "a chat completion")
        named = {"model": self.model, "messages": messages, "temperature": self.temperature}
        body = request_body(ChatCompletionRequest, named, self.advanced)
        self.check_model(body.get("model"))
        response = self.hook.request(create_chat_completion(body))
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
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: the chat-completion response (a dict).
    """

    template_fields: Sequence[str] = ("conn_id", "model", "instruction", "input", "advanced")
    template_fields_renderers = {"advanced": "json"}

    def __init__(
        self,
        *,
        model: str,
        instruction: str,
        input: str | None = None,
        temperature: float | None = None,
        advanced: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.instruction = instruction
        self.input = input
        self.temperature = temperature
        self.advanced = advanced

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import request_body, required
        from airflow_provider_openai_fusion.api.chat import ChatCompletionRequest, create_chat_completion

        instruction = required("instruction", self.instruction, "an edit")
        if not isinstance(instruction, str):
            raise InvalidArgumentError("instruction", f"must be text, got {type(instruction).__name__}")
        if self.input is not None and not isinstance(self.input, str):
            raise InvalidArgumentError("input", f"must be text, got {type(self.input).__name__}")
        if self.input:
            messages = [{"role": "system", "content": instruction}, {"role": "user", "content": self.input}]
        else:
            messages = [{"role": "user", "content": instruction}]
        named = {"model": self.model, "messages": messages, "temperature": self.temperature}
        body = request_body(ChatCompletionRequest, named, self.advanced)
        self.check_model(body.get("model"))
        response = self.hook.request(create_chat_completion(body))
        _log_chat(self, response)
        return response

"""Fusion's text modules: "Create a completion", "Create a chat completion", "Create an edit", "Create a moderation"."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator, required

LOGGED_CHARS = 200


def json_list(value: Any, argument: str) -> Any:
    """
    Accept a list, or JSON text of a list (as a Jinja template renders one); other values pass unchanged.

    :param value: the argument's value.
    :param argument: the argument's name, for the error.
    """
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise InvalidArgumentError(argument, f"is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(parsed, list):
        raise InvalidArgumentError(argument, f"must be a JSON list, got {type(parsed).__name__}")
    return parsed


def _maybe_json_list(value: Any) -> Any:
    """A list rendered as JSON text by a template becomes the list again; any other text stays text."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, list) else value
    return value


def _short(text: Any) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= LOGGED_CHARS else f"{text[:LOGGED_CHARS]}..."


def _usage(response: dict[str, Any]) -> str:
    usage = response.get("usage") or {}
    return f"{usage.get('prompt_tokens', '?')} prompt + {usage.get('completion_tokens', '?')} completion tokens"


class OpenAICompletionOperator(OpenAIFusionBaseOperator):
    """
    Create a completion (POST /completions: the legacy API, still served by OpenAI and compatible servers).

    :param model: the model id, e.g. ``gpt-3.5-turbo-instruct``. (templated)
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
        from airflow_provider_openai_fusion.models._base import request_body
        from airflow_provider_openai_fusion.models.text import CompletionRequest

        named = {"model": self.model, "prompt": self.prompt, "temperature": self.temperature}
        body = request_body(CompletionRequest, named, self.advanced)
        response = self.hook.create_completion(body)
        first = (response.get("choices") or [{}])[0]
        self.log.info("Completion %s: %r (%s)", response.get("id"), _short(first.get("text")), _usage(response))
        return response


def _log_chat(operator: OpenAIFusionBaseOperator, response: dict[str, Any]) -> None:
    message = ((response.get("choices") or [{}])[0]).get("message") or {}
    text = message.get("content") or message.get("refusal") or message.get("tool_calls")
    operator.log.info("Chat completion %s: %r (%s)", response.get("id"), _short(text), _usage(response))


class OpenAIChatCompletionOperator(OpenAIFusionBaseOperator):
    """
    Create a chat completion (POST /chat/completions).

    :param model: the model id, e.g. ``gpt-4o-mini``. (templated)
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
        from airflow_provider_openai_fusion.models._base import request_body
        from airflow_provider_openai_fusion.models.text import ChatCompletionRequest

        messages = required("messages", json_list(self.messages, "messages"), "a chat completion")
        named = {"model": self.model, "messages": messages, "temperature": self.temperature}
        body = request_body(ChatCompletionRequest, named, self.advanced)
        response = self.hook.create_chat_completion(body)
        _log_chat(self, response)
        return response


class OpenAIEditOperator(OpenAIFusionBaseOperator):
    """
    Fusion's "Create an edit": rewrite ``input`` following ``instruction``.

    The ``/edits`` endpoint no longer exists, so this runs a chat completion: ``instruction`` is the system
    message and ``input`` the user message (with no ``input``, the instruction alone is the user message).

    :param model: the chat model id, e.g. ``gpt-4o-mini``. (templated)
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
        from airflow_provider_openai_fusion.models._base import request_body
        from airflow_provider_openai_fusion.models.text import ChatCompletionRequest

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
        response = self.hook.create_chat_completion(body)
        _log_chat(self, response)
        return response


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
        from airflow_provider_openai_fusion.models._base import request_body
        from airflow_provider_openai_fusion.models.text import ModerationRequest

        value = required("input", _maybe_json_list(self.input), "a moderation")
        body = request_body(ModerationRequest, {"input": value, "model": self.model})
        response = self.hook.create_moderation(body)
        results = response.get("results") or []
        flagged = [str(i) for i, result in enumerate(results) if result.get("flagged")]
        self.log.info(
            "Moderation %s: %d of %d inputs flagged%s",
            response.get("id"),
            len(flagged),
            len(results),
            f" (inputs {', '.join(flagged)})" if flagged else "",
        )
        return response

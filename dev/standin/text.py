"""
Stand-in routes: /completions, /chat/completions, /moderations.

Answers are deterministic (the same request gives the same text) and shaped exactly like OpenAI's. The
"model" echoes the last user message, follows a few instructions (upper case, summarise, JSON), honours ``n``
and the token caps (``finish_reason: "length"``), and counts about one token per 4 characters.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin import models
from dev.standin.common import error, json_body, new_id, now, ok, state_of

COMPLETION_MODELS = ("gpt-3.5-turbo-instruct", "gpt-oss-20b", "davinci-002", "babbage-002")
NOT_CHAT_PREFIXES = ("text-embedding-", "omni-moderation", "text-moderation", "gpt-image", "dall-e", "whisper")
MODERATION_MODELS = ("omni-moderation-latest", "omni-moderation-2024-09-26", "text-moderation-latest")
CATEGORIES = {
    "hate": ("hate", "despise"),
    "hate/threatening": ("exterminate",),
    "harassment": ("idiot", "loser", "stupid"),
    "harassment/threatening": ("i will hurt you",),
    "illicit": ("steal", "counterfeit"),
    "illicit/violent": ("build a bomb",),
    "self-harm": ("hurt myself",),
    "self-harm/intent": ("i want to hurt myself",),
    "self-harm/instructions": ("how to hurt myself",),
    "sexual": ("explicit",),
    "sexual/minors": ("minor explicit",),
    "violence": ("kill", "attack", "punch"),
    "violence/graphic": ("gore", "blood everywhere"),
}
TYPOS = {"teh": "the", "dissapointed": "disappointed", "schedlues": "schedules", "pipelnes": "pipelines"}
FOX = "The quick brown fox jumps over the lazy dog."
TRANSLATIONS = {
    "german": {FOX: "Der schnelle braune Fuchs springt über den faulen Hund."},
    "french": {FOX: "Le renard brun rapide saute par-dessus le chien paresseux."},
}
"""What the stand-in's "model" answers to a translation instruction (any other text comes back unchanged)."""
IMAGE_CATEGORIES = ("self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "violence", "violence/graphic")


def known_models(request: Request) -> set[str]:
    """The ids of every model the stand-in serves: the base ones, those given a shutdown date, the fine-tuned ones."""
    state = state_of(request)
    return set(models.BASE_MODELS) | set(state.shutdown_dates) | set(state.fine_tuned_models)


def tokens(text: str) -> int:
    """About one token per 4 characters, at least one for non-empty text."""
    return math.ceil(len(text) / 4) if text else 0


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _fingerprint(body: dict[str, Any]) -> str:
    return "fp_" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:10]


def reply(instruction: str, text: str, json_mode: bool) -> str:
    """
    What the stand-in "model" answers.

    :param instruction: the system/developer messages.
    :param text: the last user message.
    :param json_mode: whether the answer must be a JSON object.
    """
    lowered = instruction.lower()
    if (wanted := re.search(r"translate the user's text into (\w+)", lowered)) is not None:
        answer = TRANSLATIONS.get(wanted.group(1), {}).get(text.strip(), text.strip())
    elif "upper" in lowered:
        answer = text.upper()
    elif "summar" in lowered or "one sentence" in lowered:
        answer = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    elif "spelling" in lowered or "fix" in lowered:
        spaced = re.sub(r"\s+([,.!?])", r"\1", re.sub(r"\s+", " ", text)).strip()
        answer = re.sub(r"[A-Za-z]+", lambda word: TYPOS.get(word.group(0).lower(), word.group(0)), spaced)
    else:
        answer = f"Here is a short answer about: {text.strip()[:200]}"
    return json.dumps({"answer": answer}) if json_mode else answer


def _cut(answer: str, cap: int | None) -> tuple[str, str]:
    if cap is None or tokens(answer) <= cap:
        return answer, "stop"
    return answer[: cap * 4], "length"


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _unknown_model(model: str) -> Response:
    return error(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        type_="invalid_request_error",
        code="model_not_found",
        param="model",
    )


def _check_messages(messages: list[dict[str, Any]]) -> Response | None:
    open_calls: set[str] = set()
    for position, message in enumerate(messages):
        if message.get("role") == "assistant":
            open_calls = {call.get("id") for call in message.get("tool_calls") or []}
        elif message.get("role") == "tool" and message.get("tool_call_id") not in open_calls:
            return error(
                400,
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                "'tool_calls'.",
                type_="invalid_request_error",
                param=f"messages.[{position}].role",
            )
    return None


async def chat_completions(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    model = str(body.get("model", ""))
    if model not in known_models(request):
        return _unknown_model(model)
    if model.startswith(NOT_CHAT_PREFIXES) or model in COMPLETION_MODELS:
        return error(
            404,
            "This is not a chat model and thus not supported in the v1/chat/completions endpoint. "
            "Did you mean to use v1/completions?",
            type_="invalid_request_error",
            param="model",
        )
    messages = body.get("messages") or []
    if problem := _check_messages(messages):
        return problem
    instruction = " ".join(_text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    users = [_text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    json_mode = (body.get("response_format") or {}).get("type") in ("json_object", "json_schema")
    answer, finish = _cut(
        reply(instruction, users[-1] if users else "", json_mode),
        body.get("max_completion_tokens") or body.get("max_tokens"),
    )
    choices = [
        {
            "index": index,
            "message": {"role": "assistant", "content": answer, "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": finish,
        }
        for index in range(body.get("n") or 1)
    ]
    prompt = sum(tokens(_text_of(m.get("content"))) + 4 for m in messages)
    return ok(
        {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": now(),
            "model": model,
            "choices": choices,
            "usage": _usage(prompt, tokens(answer) * len(choices)),
            "service_tier": body.get("service_tier") if body.get("service_tier") in ("flex", "priority") else "default",
            "system_fingerprint": _fingerprint(body),
        }
    )


async def completions(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    model = str(body.get("model", ""))
    if model not in known_models(request):
        return _unknown_model(model)
    if model not in COMPLETION_MODELS and not model.startswith(tuple(f"ft:{m}" for m in COMPLETION_MODELS)):
        return error(
            404,
            "This is a chat model and not supported in the v1/completions endpoint. "
            "Did you mean to use v1/chat/completions?",
            type_="invalid_request_error",
            param="model",
        )
    prompt = body.get("prompt", "")
    prompts = [prompt] if isinstance(prompt, str) or (prompt and isinstance(prompt[0], int)) else list(prompt)
    cap = body.get("max_tokens", 16)
    choices = []
    for position, item in enumerate(prompts):
        text = item if isinstance(item, str) else " ".join(map(str, item))
        answer, finish = _cut(" " + reply("", text, False), cap)
        if body.get("echo"):
            answer = text + answer
        for copy in range(body.get("n") or 1):
            choices.append(
                {
                    "text": answer,
                    "index": position * (body.get("n") or 1) + copy,
                    "logprobs": None,
                    "finish_reason": finish,
                }
            )
    prompt_tokens = sum(tokens(p if isinstance(p, str) else " ".join(map(str, p))) for p in prompts)
    completion_tokens = sum(tokens(c["text"]) for c in choices)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return ok(
        {
            "id": new_id("cmpl-"),
            "object": "text_completion",
            "created": now(),
            "model": model,
            "choices": choices,
            "usage": usage,
            "system_fingerprint": _fingerprint(body),
        }
    )


def _moderate(text: str, has_image: bool) -> dict[str, Any]:
    lowered = text.lower()
    scores = {
        category: round(0.93 if any(word in lowered for word in words) else 0.0004 + len(category) / 100_000, 6)
        for category, words in CATEGORIES.items()
    }
    flags = {category: score > 0.5 for category, score in scores.items()}
    applied = {
        category: ["text", "image"] if has_image and category in IMAGE_CATEGORIES else ["text"]
        for category in CATEGORIES
    }
    return {
        "flagged": any(flags.values()),
        "categories": flags,
        "category_scores": scores,
        "category_applied_input_types": applied,
    }


async def moderations(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    model = str(body.get("model") or "omni-moderation-latest")
    if model not in MODERATION_MODELS:
        return _unknown_model(model)
    value = body.get("input")
    if isinstance(value, str):
        results = [_moderate(value, False)]
    elif value and all(isinstance(item, dict) for item in value):
        text = " ".join(str(part.get("text", "")) for part in value if part.get("type") == "text")
        results = [_moderate(text, any(part.get("type") == "image_url" for part in value))]
    elif value:
        results = [_moderate(str(item), False) for item in value]
    else:
        return error(400, "'input' must not be empty.", type_="invalid_request_error", param="input")
    return ok({"id": new_id("modr-"), "model": model, "results": results})


routes = [
    Route("/completions", completions, methods=["POST"]),
    Route("/chat/completions", chat_completions, methods=["POST"]),
    Route("/moderations", moderations, methods=["POST"]),
]

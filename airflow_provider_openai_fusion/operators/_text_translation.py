"""
Translation that outlives ``/audio/translations``: transcribe the file, then let a text model translate the
transcript. Two paid calls in one task (a transcription and a chat completion); their usage is summed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_openai_fusion.defaults import DEFAULT_MODELS
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.operators.audio import OpenAIManageAudioOperator

FORMATS = ("json", "text")
INSTRUCTION = (
    "Translate the user's text into {language}. Answer with the translation only, keeping its meaning, names and "
    "numbers; add no notes."
)


def _count(usage: Any, *names: str) -> int:
    if not isinstance(usage, dict):
        return 0
    for name in names:
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def summed_usage(*usages: Any) -> dict[str, int]:
    """
    The token counts of several answers added up (both shapes: ``input_tokens`` and ``prompt_tokens``); a usage
    without tokens (an audio duration) adds nothing.

    :param usages: the ``usage`` of each answer.
    """
    given = sum(_count(usage, "input_tokens", "prompt_tokens") for usage in usages)
    made = sum(_count(usage, "output_tokens", "completion_tokens") for usage in usages)
    total = sum(_count(usage, "total_tokens") for usage in usages)
    return {"input_tokens": given, "output_tokens": made, "total_tokens": total}


def translate_via_text(operator: OpenAIManageAudioOperator) -> dict[str, Any] | str:
    """
    Run ``operation="translate"`` with ``via="transcribe+text"`` for ``operator``.

    Every argument is checked, and both models too, before the first request.

    :param operator: the audio operator, with ``file``, ``model`` (transcription), ``text_model``,
        ``target_language`` and ``advanced`` (transcription fields).
    :return: with ``response_format`` ``json`` (default): ``{"text", "transcript", "models", "usage", "calls"}``;
        with ``text``: the translation as text.
    """
    from airflow_provider_openai_fusion.api._base import file_part, request_body, required
    from airflow_provider_openai_fusion.api.audio import TranscriptionFields, transcribe_or_translate
    from airflow_provider_openai_fusion.api.chat import ChatCompletionRequest, create_chat_completion
    from airflow_provider_openai_fusion.operators._io import check_file, local_input
    from airflow_provider_openai_fusion.operators.audio import AUDIO_TYPES, MAX_BYTES

    text_model = required("text_model", operator.text_model, "via='transcribe+text'")
    language = required("target_language", operator.target_language, "via='transcribe+text'")
    transcriber = DEFAULT_MODELS["transcription"] if operator.model is None else operator.model
    fields = request_body(TranscriptionFields, {"model": transcriber}, operator.advanced)
    wanted = fields.get("response_format", "json")
    if wanted not in FORMATS:
        raise InvalidArgumentError(
            "advanced.response_format", f"must be 'json' or 'text' with via='transcribe+text', got {wanted!r}"
        )
    fields["response_format"] = "json"
    instruction = {"role": "developer", "content": INSTRUCTION.format(language=language)}
    chat = request_body(ChatCompletionRequest, {"model": text_model, "messages": [instruction]})
    operator.check_model(transcriber)
    operator.check_model(text_model)
    operator.log.info(
        "Translating via transcribe+text: two paid calls, %s transcribes, then %s translates into %s",
        transcriber,
        text_model,
        language,
    )
    with local_input("file", required("file", operator.file, "operation='translate'")) as path:
        check_file("file", path, max_bytes=MAX_BYTES, suffixes=tuple(AUDIO_TYPES))
        part = file_part("file", path, AUDIO_TYPES[path.suffix.lower().lstrip(".")])
        transcription = operator.hook.request(transcribe_or_translate("transcribe", fields, part))
    transcript = transcription["text"]
    operator.log_usage(transcription, transcriber)
    chat["messages"].append({"role": "user", "content": transcript})
    answer = operator.hook.request(create_chat_completion(chat))
    operator.log_usage(answer, text_model)
    choices = answer.get("choices") or [{}]
    translation = (choices[0].get("message") or {}).get("content")
    if not isinstance(translation, str):
        raise APIResponseValidationError(f"the answer of {text_model} holds no translated text")
    operator.log.info("translate: %d characters of transcript, %d of translation", len(transcript), len(translation))
    if wanted == "text":
        return translation
    calls = [
        {"model": transcription.get("model") or transcriber, "usage": transcription.get("usage")},
        {"model": answer.get("model") or text_model, "usage": answer.get("usage")},
    ]
    return {
        "text": translation,
        "transcript": transcript,
        "models": {"transcription": transcriber, "translation": text_model},
        "usage": summed_usage(*(call["usage"] for call in calls)),
        "calls": calls,
    }

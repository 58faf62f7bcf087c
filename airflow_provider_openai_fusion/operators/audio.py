"""Fusion's "Manage audio" module: transcribe or translate an audio file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_openai_fusion.exceptions import APIResponseValidationError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

OPERATIONS = ("transcribe", "translate")
MAX_BYTES = 25 * 1024 * 1024
AUDIO_TYPES = {
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "mp4": "audio/mp4",
    "mpeg": "audio/mpeg",
    "mpga": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "webm": "audio/webm",
}


class OpenAIManageAudioOperator(OpenAIFusionBaseOperator):
    """
    Transcribe an audio file (POST /audio/transcriptions) or translate it into English (POST /audio/translations).

    The file (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav or webm, at most 25 MB) is streamed from disk.

    :param operation: ``transcribe`` or ``translate``. (templated)
    :param file: the audio file: a local path or an ``ObjectStoragePath`` URI. (templated)
    :param model: ``whisper-1`` (the only translation model, and every response format), or a transcription
        model such as ``gpt-4o-mini-transcribe``. (templated)
    :param advanced: other form fields (``language``, ``prompt``, ``response_format``, ``temperature``,
        ``timestamp_granularities``, ...). (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: the JSON response (``json``, ``verbose_json``, ``diarized_json``), or the text (``text``, ``srt``,
        ``vtt``).
    """

    template_fields: Sequence[str] = ("conn_id", "operation", "file", "model", "advanced")
    template_fields_renderers = {"advanced": "json"}

    def __init__(
        self,
        *,
        file: str,
        operation: str = "transcribe",
        model: str = "whisper-1",
        advanced: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.operation = operation
        self.file = file
        self.model = model
        self.advanced = advanced

    def execute(self, context: Context) -> dict[str, Any] | str:
        from airflow_provider_openai_fusion.api._base import choice, file_part, request_body, required
        from airflow_provider_openai_fusion.api.audio import (
            TEXT_FORMATS,
            TranscriptionFields,
            TranslationFields,
            transcribe_or_translate,
        )
        from airflow_provider_openai_fusion.operators._io import check_file, local_input

        operation = choice("operation", self.operation, OPERATIONS)
        model = TranscriptionFields if operation == "transcribe" else TranslationFields
        fields = request_body(model, {"model": self.model}, self.advanced)
        with local_input("file", required("file", self.file, f"operation={operation!r}")) as path:
            check_file("file", path, max_bytes=MAX_BYTES, suffixes=tuple(AUDIO_TYPES))
            part = file_part("file", path, AUDIO_TYPES[path.suffix.lower().lstrip(".")])
            answer = self.hook.send(transcribe_or_translate(operation, fields, part))
        result = answer.body
        if fields.get("response_format") in TEXT_FORMATS:
            if not isinstance(result, str):
                raise APIResponseValidationError(
                    "the audio answer is not UTF-8 text", request_id=answer.headers.get("x-request-id")
                )
            self.log.info("%s: %d characters of %s", operation, len(result), fields["response_format"])
            return result
        self.log.info("%s: %d characters of text", operation, len(result["text"]))
        return result

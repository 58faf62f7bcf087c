"""The Audio API: transcriptions and translations (multipart)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from airflow_provider_openai_fusion._http.request import FilePart, RequestSpec
from airflow_provider_openai_fusion.api._base import RequestModel, ResponseModel

TEXT_FORMATS = ("text", "srt", "vtt")


class TranscriptionFields(RequestModel):
    """The form fields of POST /audio/transcriptions (the audio is a file part)."""

    model: str = Field(min_length=1)
    language: str | None = None
    prompt: str | None = None
    response_format: Literal["json", "text", "srt", "verbose_json", "vtt", "diarized_json"] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    include: list[Literal["logprobs"]] | None = None
    timestamp_granularities: list[Literal["word", "segment"]] | None = None
    chunking_strategy: Literal["auto"] | dict[str, Any] | None = None
    known_speaker_names: list[str] | None = Field(default=None, max_length=4)
    known_speaker_references: list[str] | None = Field(default=None, max_length=4)


class TranslationFields(RequestModel):
    """The form fields of POST /audio/translations (into English; the audio is a file part)."""

    model: str = Field(min_length=1)
    prompt: str | None = None
    response_format: Literal["json", "text", "srt", "verbose_json", "vtt"] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)


class Transcription(ResponseModel):
    """The JSON answer of a transcription or translation (``json``, ``verbose_json``, ``diarized_json``)."""

    text: str


def form_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """
    Encode validated fields as multipart form values: lists as repeated ``name[]`` fields, objects as JSON.

    :param fields: the validated request fields.
    """
    encoded: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, list):
            encoded[f"{name}[]"] = [str(item) for item in value]
        elif isinstance(value, dict):
            encoded[name] = json.dumps(value)
        else:
            encoded[name] = value if isinstance(value, str) else str(value)
    return encoded


def transcribe_or_translate(operation: str, fields: Mapping[str, Any], file: FilePart) -> RequestSpec:
    """
    POST /audio/transcriptions or /audio/translations (multipart); the answer is JSON or text.

    :param operation: ``transcribe`` or ``translate``.
    :param fields: the validated form fields.
    :param file: the audio file.
    """
    path = {"transcribe": "audio/transcriptions", "translate": "audio/translations"}[operation]
    schema = None if fields.get("response_format") in TEXT_FORMATS else Transcription
    return RequestSpec("POST", path, data=form_fields(fields), files=(file,), response=schema)


SPEECH_EXTENSIONS = {"mp3": ("mp3",), "opus": ("opus", "ogg"), "aac": ("aac",), "flac": ("flac",), "wav": ("wav",)}
SPEECH_EXTENSIONS["pcm"] = ("pcm", "raw")
MAX_SPEECH_INPUT = 4096
MAX_SPEECH_BYTES = 512 * 1024 * 1024


class CustomVoice(RequestModel):
    """A custom voice, by id."""

    id: str = Field(min_length=1)


class SpeechRequest(RequestModel):
    """The body of POST /audio/speech. ``stream_format`` may only be ``audio``: the operator writes a file."""

    model: str = Field(min_length=1)
    input: str = Field(min_length=1, max_length=MAX_SPEECH_INPUT)
    voice: str | CustomVoice
    instructions: str | None = Field(default=None, max_length=MAX_SPEECH_INPUT)
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] | None = None
    speed: float | None = Field(default=None, ge=0.25, le=4)
    stream_format: Literal["audio"] | None = None


def speech_format(extension: str, response_format: str | None) -> str | None:
    """
    The audio format to ask for, given the output file's extension: the extension must agree with
    ``response_format``, or name one when ``response_format`` is unset. ``None`` when they disagree.

    :param extension: the output file's extension, without the dot (lower case).
    :param response_format: the format asked for, if any.
    """
    if response_format is not None:
        return response_format if extension in SPEECH_EXTENSIONS.get(response_format, ()) else None
    return next((fmt for fmt, extensions in SPEECH_EXTENSIONS.items() if extension in extensions), None)


def create_speech(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /audio/speech: the audio, to be streamed to a file.

    :param body: the validated request body.
    """
    return RequestSpec(
        "POST",
        "audio/speech",
        json=dict(body),
        headers={"Accept": "application/octet-stream"},
        max_bytes=MAX_SPEECH_BYTES,
    )

"""Request models of the Audio API: transcriptions and translations (multipart form fields)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from airflow_provider_openai_fusion.models._base import RequestModel

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

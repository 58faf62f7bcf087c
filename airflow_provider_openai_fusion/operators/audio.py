"""Fusion's "Manage audio" module: transcribe or translate an audio file; and text to speech."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_openai_fusion.defaults import DEFAULT_MODELS
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

OPERATIONS = ("transcribe", "translate", "speech")
VIAS = ("translations", "transcribe+text")
DEFAULT_VOICE = DEFAULT_MODELS["speech_voice"]
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


def _voice(value: Any) -> Any:
    """A voice name as it is; a custom voice as a dict or its JSON text (``{"id": ...}``); unset: the default."""
    from airflow_provider_openai_fusion.api._base import json_object

    if value is None:
        return DEFAULT_VOICE
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return json_object(value, "voice")
    return value


class OpenAIManageAudioOperator(OpenAIFusionBaseOperator):
    """
    Transcribe an audio file (POST /audio/transcriptions), translate it (POST /audio/translations, or a
    transcription followed by a text model), or turn text into speech (POST /audio/speech).

    ``transcribe`` / ``translate``: the file (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav or webm, at most 25 MB) is
    streamed from disk. ``speech``: the audio is streamed to ``output_path`` (written under a temporary name and
    renamed when complete); its extension names the format (``.mp3``, ``.opus``/``.ogg``, ``.aac``, ``.flac``,
    ``.wav``, ``.pcm``/``.raw``) and must agree with ``response_format`` when that is set.

    At OpenAI, ``/audio/speech`` (``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``) shuts down on 2027-01-06 and
    ``/audio/translations`` (``whisper-1``) on 2027-02-26, with no replacement on either endpoint: until then the
    task log says so before each call, and from then on the task is refused before sending. Compatible servers are
    not affected. The translation that keeps working is ``via="transcribe+text"``: the file is transcribed with
    ``model`` (default ``gpt-transcribe``), then ``text_model`` translates the transcript into
    ``target_language`` over ``/chat/completions`` -- two paid calls in one task, their usage summed.

    :param operation: ``transcribe``, ``translate`` or ``speech``. (templated)
    :param file: the audio file, for ``transcribe`` / ``translate``: a local path or an ``ObjectStoragePath`` URI.
        (templated)
    :param model: the model: for ``transcribe`` and ``via="transcribe+text"`` the transcription model (default
        ``gpt-transcribe``); for ``via="translations"`` the translation model (required; at OpenAI only
        ``whisper-1``); for ``speech`` the speech model (required: every OpenAI speech model shuts down on
        2027-01-06, so there is no default). (templated)
    :param via: for ``translate``: ``translations`` (the ``/audio/translations`` endpoint, into English) or
        ``transcribe+text``; default ``transcribe+text`` when ``text_model`` is given, else ``translations``.
        (templated)
    :param text_model: for ``via="transcribe+text"``: the chat model that translates the transcript, e.g.
        ``gpt-5.6-luna``. (templated)
    :param target_language: for ``via="transcribe+text"``: the language to translate into; default English.
        (templated)
    :param input: the text to speak (at most 4,096 characters), for ``speech``. (templated)
    :param voice: the voice, for ``speech``: a built-in name such as ``coral`` (default) or ``{"id": ...}``.
        (templated)
    :param instructions: how to speak (not with ``tts-1`` / ``tts-1-hd``), for ``speech``. (templated)
    :param response_format: for ``speech``: ``mp3``, ``opus``, ``aac``, ``flac``, ``wav`` or ``pcm``; default:
        the output file's extension. (templated)
    :param speed: for ``speech``: 0.25 to 4.
    :param output_path: the audio file to write, for ``speech``: a local path or an ``ObjectStoragePath`` URI.
        (templated)
    :param advanced: other request fields (``language``, ``prompt``, ``response_format``, ``temperature``,
        ``timestamp_granularities``, ...); with ``via="transcribe+text"`` they go to the transcription, whose
        ``response_format`` may only be ``json`` (the default; the result is a dict) or ``text``. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``transcribe`` / ``translate``: the JSON response (``json``, ``verbose_json``, ``diarized_json``), or
        the text (``text``, ``srt``, ``vtt``); with ``via="transcribe+text"`` and ``json``:
        ``{"text", "transcript", "models", "usage"}`` (``usage`` summed over both calls, ``calls`` kept per
        model); ``speech``: the path written.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "operation",
        "file",
        "model",
        "via",
        "text_model",
        "target_language",
        "input",
        "voice",
        "instructions",
        "response_format",
        "output_path",
        "advanced",
    )
    template_fields_renderers = {"advanced": "json"}

    def __init__(
        self,
        *,
        operation: str = "transcribe",
        file: str | None = None,
        model: str | None = None,
        via: str | None = None,
        text_model: str | None = None,
        target_language: str = "English",
        input: str | None = None,
        voice: str | dict[str, str] | None = None,
        instructions: str | None = None,
        response_format: str | None = None,
        speed: float | None = None,
        output_path: str | None = None,
        advanced: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.operation = operation
        self.file = file
        self.model = model
        self.via = via
        self.text_model = text_model
        self.target_language = target_language
        self.input = input
        self.voice = voice
        self.instructions = instructions
        self.response_format = response_format
        self.speed = speed
        self.output_path = output_path
        self.advanced = advanced

    def execute(self, context: Context) -> dict[str, Any] | str:
        from airflow_provider_openai_fusion.api._base import choice

        operation = choice("operation", self.operation, OPERATIONS)
        speech_only: dict[str, Any] = {"input": self.input, "voice": self.voice, "instructions": self.instructions}
        speech_only |= {"response_format": self.response_format, "speed": self.speed, "output_path": self.output_path}
        given = {"file": self.file} if operation == "speech" else speech_only
        if operation != "translate":
            given |= {"via": self.via, "text_model": self.text_model}
        for name, value in given.items():
            if value is not None:
                raise InvalidArgumentError(name, f"does not apply to operation={operation!r}")
        if operation == "speech":
            return self._speech()
        if operation == "translate" and self._via() == "transcribe+text":
            from airflow_provider_openai_fusion.operators._text_translation import translate_via_text

            return translate_via_text(self)
        return self._transcribe_or_translate(operation)

    def _via(self) -> str:
        from airflow_provider_openai_fusion.api._base import choice

        if self.via is None:
            via = "transcribe+text" if self.text_model else "translations"
        else:
            via = choice("via", self.via, VIAS)
        if via == "translations" and self.text_model is not None:
            raise InvalidArgumentError("text_model", "does not apply to via='translations'")
        if via == "translations" and self.target_language != "English":
            raise InvalidArgumentError(
                "target_language", "via='translations' translates into English only; use via='transcribe+text'"
            )
        return via

    def announce_endpoint(self, name: str) -> None:
        """
        Log, before the call, what OpenAI shuts down on the endpoint ``name`` and when (refused once it has).

        :param name: ``speech`` or ``translate``.
        """
        from airflow_provider_openai_fusion.model_lifecycle import check_endpoint

        notice = check_endpoint(name, base_url=self.hook.settings.base_url)
        if notice:
            self.log.warning("%s", notice)

    def _speech(self) -> str:
        from pathlib import PurePosixPath

        from airflow_provider_openai_fusion.api._base import request_body, required
        from airflow_provider_openai_fusion.api.audio import SpeechRequest, create_speech, speech_format
        from airflow_provider_openai_fusion.operators._io import path_text, write_output

        output_path = path_text("output_path", required("output_path", self.output_path, "operation='speech'"))
        extension = PurePosixPath(output_path).suffix.lower().lstrip(".")
        fmt = speech_format(extension, self.response_format)
        if fmt is None:
            wanted = f"response_format={self.response_format!r}" if self.response_format else "a known audio format"
            raise InvalidArgumentError(
                "output_path",
                f"its extension '.{extension}' does not agree with {wanted} (mp3, opus, aac, flac, wav, pcm)",
            )
        model = required(
            "model",
            self.model,
            "operation='speech' (OpenAI's speech models all shut down on 2027-01-06, so there is no default: name "
            "the one your server serves)",
        )
        named = {
            "model": model,
            "input": required("input", self.input, "operation='speech'"),
            "voice": _voice(self.voice),
            "instructions": self.instructions,
            "response_format": fmt,
            "speed": self.speed,
        }
        body = request_body(SpeechRequest, named, self.advanced)
        self.announce_endpoint("speech")
        self.check_model(body["model"])
        spec = create_speech(body)
        written = write_output("output_path", output_path, lambda path: self.hook.download(spec, path))
        self.log.info("Spoke %d characters with %s (%s) into %s", len(body["input"]), body["model"], fmt, written)
        return written

    def _transcribe_or_translate(self, operation: str) -> dict[str, Any] | str:
        from airflow_provider_openai_fusion import _budget
        from airflow_provider_openai_fusion.api._base import file_part, request_body, required
        from airflow_provider_openai_fusion.api.audio import (
            TEXT_FORMATS,
            TranscriptionFields,
            TranslationFields,
            transcribe_or_translate,
        )
        from airflow_provider_openai_fusion.operators._io import check_file, local_input

        if operation == "transcribe":
            schema: type[TranscriptionFields | TranslationFields] = TranscriptionFields
            model = DEFAULT_MODELS["transcription"] if self.model is None else self.model
        else:
            schema = TranslationFields
            model = required(
                "model",
                self.model,
                "via='translations' (whisper-1, OpenAI's only translation model, shuts down with the endpoint on "
                "2027-02-26; or pass text_model to translate via='transcribe+text')",
            )
        fields = request_body(schema, {"model": model}, self.advanced)
        if operation == "translate":
            self.announce_endpoint("translate")
        self.check_model(model)
        with local_input("file", required("file", self.file, f"operation={operation!r}")) as path:
            check_file("file", path, max_bytes=MAX_BYTES, suffixes=tuple(AUDIO_TYPES))
            part = file_part("file", path, AUDIO_TYPES[path.suffix.lower().lstrip(".")])
            self.check_budget(_budget.audio, model, path.stat().st_size)
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
        self.log_usage(result, model)
        return cast("dict[str, Any] | str", result)

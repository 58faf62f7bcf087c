"""
Stand-in routes: /audio/transcriptions and /audio/translations.

The transcript is fixed text; its duration is the upload's size over the byte rate of its WAV header (the
header's sizes may arrive garbled: Prism forwards multipart bodies re-encoded as UTF-8 text). Every
response format answers as OpenAI does: JSON for ``json`` / ``verbose_json``, plain text for ``text``, ``srt``
and ``vtt``; the GPT-4o transcription models serve only ``json`` and ``text``.
"""

from __future__ import annotations

import math

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from dev.standin.common import error, ok, request_id

FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
TRANSCRIPT = "The quick brown fox jumps over the lazy dog."
TRANSLATION = "Hello, this is the English translation."
WHISPER = "whisper-1"
DEFAULT_BYTE_RATE = 32_000


def _duration(blob: bytes) -> float:
    fmt = blob.find(b"fmt ", 0, 64) if blob.startswith(b"RIFF") else -1
    byte_rate = int.from_bytes(blob[fmt + 16 : fmt + 20], "little") if fmt > 0 else 0
    return round(len(blob) / (byte_rate or DEFAULT_BYTE_RATE), 3)


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{separator}{rest % 1000:03d}"


def _segment(text: str, duration: float) -> dict:
    return {
        "id": 0,
        "seek": 0,
        "start": 0.0,
        "end": duration,
        "text": f" {text}",
        "tokens": list(range(50364, 50364 + len(text.split()))),
        "temperature": 0.0,
        "avg_logprob": -0.21,
        "compression_ratio": 0.93,
        "no_speech_prob": 0.01,
    }


def _words(text: str, duration: float) -> list[dict]:
    words = text.rstrip(".").split()
    step = duration / max(1, len(words))
    return [
        {"word": word, "start": round(i * step, 3), "end": round((i + 1) * step, 3)} for i, word in enumerate(words)
    ]


def _text_answer(text: str) -> Response:
    return PlainTextResponse(text, headers={"x-request-id": request_id()})


async def _handle(request: Request, translate: bool) -> Response:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return error(400, "file is required", type_="invalid_request_error", param="file")
    extension = (upload.filename or "").rsplit(".", 1)[-1].lower()
    if extension not in FORMATS:
        return error(
            400,
            f"Invalid file format. Supported formats: {list(FORMATS)}",
            type_="invalid_request_error",
            param="file",
        )
    model = str(form.get("model"))
    response_format = str(form.get("response_format") or "json")
    if model != WHISPER and (translate or response_format not in ("json", "text")):
        return error(
            400,
            f"response_format '{response_format}' is not compatible with model '{model}'. Use 'json' or 'text'.",
            type_="invalid_request_error",
            param="response_format",
        )
    duration = _duration(await upload.read())
    text = TRANSLATION if translate else TRANSCRIPT
    if response_format == "text":
        return _text_answer(text)
    if response_format in ("srt", "vtt"):
        separator = "," if response_format == "srt" else "."
        cue = f"{_timestamp(0, separator)} --> {_timestamp(duration, separator)}\n{text}\n"
        return _text_answer(f"1\n{cue}\n" if response_format == "srt" else f"WEBVTT\n\n{cue}\n")
    if response_format == "diarized_json":
        return error(400, f"diarized_json is not supported by {model}.", type_="invalid_request_error")
    usage = {"type": "duration", "seconds": math.ceil(duration)}
    if response_format == "json":
        if translate:
            return ok({"text": text})
        if model != WHISPER:
            tokens = len(text.split())
            usage = {"type": "tokens", "input_tokens": 20, "output_tokens": tokens, "total_tokens": 20 + tokens}
        return ok({"text": text, "usage": usage})
    verbose = {"language": "english", "duration": duration, "text": text, "segments": [_segment(text, duration)]}
    if not translate:
        if "word" in form.getlist("timestamp_granularities[]"):
            verbose["words"] = _words(text, duration)
        verbose["usage"] = usage
    return ok(verbose)


async def transcriptions(request: Request) -> Response:
    return await _handle(request, translate=False)


async def translations(request: Request) -> Response:
    return await _handle(request, translate=True)


routes = [
    Route("/audio/transcriptions", transcriptions, methods=["POST"]),
    Route("/audio/translations", translations, methods=["POST"]),
]

"""
Stand-in route: /audio/speech.

``wav`` and ``pcm`` are real audio: a 440 Hz tone, 24 kHz 16-bit mono, 50 ms per character of input (a WAV file
with its RIFF header; PCM as raw little-endian samples, as OpenAI sends it). ``mp3``, ``opus``, ``aac`` and
``flac`` are faked: the format's magic bytes (an ID3 tag, an Ogg page, an ADTS header, ``fLaC``) followed by the
same samples, enough for a pipeline to tell the formats apart, not to play them. The body is streamed in chunks.
"""

from __future__ import annotations

import math
import struct
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dev.standin.common import error, json_body, request_id

RATE = 24_000
SECONDS_PER_CHARACTER = 0.05
CHUNK = 64 * 1024
VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "onyx",
    "nova",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
FAKE_HEADERS = {
    "mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "opus": b"OggS\x00\x02" + bytes(20),
    "aac": b"\xff\xf1\x50\x80\x00\x1f\xfc",
    "flac": b"fLaC\x00\x00\x00\x22" + bytes(34),
}
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac", "wav": "audio/wav"}


def samples(text: str) -> bytes:
    """A 440 Hz tone as 16-bit little-endian samples, as long as ``text`` would take to say."""
    count = max(1, round(len(text) * SECONDS_PER_CHARACTER * RATE))
    return b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / RATE))) for n in range(count))


def wav(pcm: bytes) -> bytes:
    """A mono 16-bit WAV file holding ``pcm``."""
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(pcm)) + pcm


def _invalid(message: str, param: str) -> Response:
    return error(400, message, type_="invalid_request_error", param=param)


async def speech(request: Request) -> Response:
    """POST /audio/speech: the audio of the asked format, streamed."""
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    text, voice, model = body.get("input"), body.get("voice"), body.get("model")
    fmt = body.get("response_format", "mp3")
    if model not in MODELS:
        return _invalid(f"Invalid model '{model}' for speech.", "model")
    if not isinstance(text, str) or not 0 < len(text) <= 4096:
        return _invalid("'input' must be between 1 and 4096 characters.", "input")
    if not (voice in VOICES or (isinstance(voice, dict) and isinstance(voice.get("id"), str))):
        return _invalid(f"Invalid voice '{voice}'.", "voice")
    if body.get("stream_format") == "sse":
        return _invalid("This stand-in streams audio only.", "stream_format")
    pcm = samples(text)
    audio = wav(pcm) if fmt == "wav" else pcm if fmt == "pcm" else FAKE_HEADERS[fmt] + pcm

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(audio), CHUNK):
            yield audio[start : start + CHUNK]

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"x-request-id": request_id(), "x-audio-format": CONTENT_TYPES.get(fmt, "audio/pcm")},
    )


routes = [Route("/audio/speech", speech, methods=["POST"])]

"""Helpers of the image, audio and files unit tests: tiny media written by code, and multipart bodies read back."""

from __future__ import annotations

import base64
import wave
from dataclasses import dataclass
from pathlib import Path

import httpx

from dev.standin.images import WEBP_1X1, jpeg, png


@dataclass(frozen=True)
class Part:
    """One part of a multipart body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def parts(request: httpx.Request) -> list[Part]:
    """The parts of a recorded multipart request, in order."""
    boundary = request.headers["content-type"].split("boundary=", 1)[1].encode()
    found = []
    for chunk in request.content.split(b"--" + boundary)[1:-1]:
        head, _, data = chunk[2:].partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        disposition = dict(
            item.strip().split("=", 1) for item in headers["Content-Disposition"].split(";")[1:] if "=" in item
        )
        found.append(
            Part(
                disposition["name"].strip('"'),
                disposition["filename"].strip('"') if "filename" in disposition else None,
                headers.get("Content-Type"),
                data[:-2],
            )
        )
    return found


def fields(request: httpx.Request) -> dict[str, list[str]]:
    """The text fields of a recorded multipart request."""
    found: dict[str, list[str]] = {}
    for part in parts(request):
        if part.filename is None:
            found.setdefault(part.name, []).append(part.data.decode())
    return found


def write_png(path: Path, width: int = 16, height: int = 16) -> Path:
    """Write a solid PNG."""
    path.write_bytes(png(width, height))
    return path


def write_wav(path: Path, seconds: float = 0.25) -> Path:
    """Write a silent 16 kHz mono WAV."""
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(16_000)
        audio.writeframes(b"\0\0" * int(16_000 * seconds))
    return path


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (for size-limit checks)."""
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def b64(data: bytes) -> str:
    """Base64 text of ``data``."""
    return base64.b64encode(data).decode()


PNG_BYTES = png(8, 8)
JPEG_BYTES = jpeg(8, 8)
WEBP_BYTES = WEBP_1X1

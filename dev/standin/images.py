"""
Stand-in routes: /images/generations, /images/edits, /images/variations.

Images are real PNG, JPEG or WEBP bytes built with ``zlib`` and ``struct`` (no imaging library): a solid PNG
of the requested size, a solid grey baseline JPEG, a 1x1 lossless WEBP. The GPT image models answer base64
with ``usage``; ``dall-e-2`` also serves variations and, unless asked for ``b64_json``, answers with URLs.

``prism proxy`` forwards multipart bodies re-encoded as UTF-8 text: every byte from 0x80 up arrives as U+FFFD.
So an upload is recognised by what survives that (``PNG\r\n``, ``IHDR`` and small dimensions, ``RIFF``/``WEBP``,
a JPEG's replaced start marker), not by its exact first bytes.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin.common import error, json_body, ok

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPLACED = "\ufffd".encode()
WEBP_1X1 = bytes.fromhex("524946461a000000574542505650384c0d0000002f00000010071011118888fe0700")
GPT_IMAGE_PREFIXES = ("gpt-image", "chatgpt-image")
RESPONSE_SIZES = ("1024x1024", "1024x1536", "1536x1024")
MAX_SIDE = 1536
DALL_E_MAX_BYTES = 4 * 1024 * 1024


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png(width: int, height: int, rgb: tuple[int, int, int] = (70, 130, 180)) -> bytes:
    """A solid RGB PNG."""
    raw = (b"\x00" + bytes(rgb) * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_MAGIC + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg(width: int, height: int) -> bytes:
    """A solid mid-grey baseline JPEG: one component, every 8x8 block a zero DC difference and end-of-block."""
    one_code = bytes([1] + [0] * 15)
    blocks = -(-width // 8) * -(-height // 8)
    bits = 2 * blocks
    scan = bytes(bits // 8) + (bytes([0xFF >> (bits % 8)]) if bits % 8 else b"")
    return (
        b"\xff\xd8"
        + _segment(0xDB, b"\x00" + bytes([1] * 64))
        + _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
        + _segment(0xC4, b"\x00" + one_code + b"\x00")
        + _segment(0xC4, b"\x10" + one_code + b"\x00")
        + _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + scan
        + b"\xff\xd9"
    )


def image_kind(data: bytes) -> str | None:
    """``png``, ``jpeg``, ``webp`` or ``None``, from the magic numbers (as they survive Prism)."""
    if data.startswith((PNG_MAGIC, REPLACED + PNG_MAGIC[1:])):
        return "png"
    if data.startswith((b"\xff\xd8\xff", REPLACED * 2)):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def png_size(data: bytes) -> tuple[int, int] | None:
    """A PNG's width and height."""
    start = data.find(b"IHDR", 0, 32)
    if image_kind(data) != "png" or start < 0:
        return None
    return struct.unpack(">II", data[start + 4 : start + 12])


def _dimensions(size: object) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", str(size or ""))
    if not match:
        return 1024, 1024
    return min(int(match.group(1)), MAX_SIDE), min(int(match.group(2)), MAX_SIDE)


def _render(kind: str, width: int, height: int, index: int) -> bytes:
    if kind == "jpeg":
        return jpeg(width, height)
    if kind == "webp":
        return WEBP_1X1
    return png(width, height, (70 + 20 * index % 180, 130, 180))


def _is_gpt_image(model: str) -> bool:
    return model.startswith(GPT_IMAGE_PREFIXES)


def _answer(model: str, fields: dict, n: int, width: int, height: int, prompt: str, input_images: int) -> Response:
    gpt_image = _is_gpt_image(model)
    kind = str(fields.get("output_format") or "png") if gpt_image else "png"
    as_url = not gpt_image and fields.get("response_format", "url") == "url"
    data = []
    for index in range(n):
        blob = _render(kind, width, height, index)
        item = {"url": f"https://images.standin.invalid/{index}.png"} if as_url else {}
        if not as_url:
            item["b64_json"] = base64.b64encode(blob).decode()
        if model == "dall-e-3":
            item["revised_prompt"] = f"A detailed picture of {prompt}"
        data.append(item)
    payload: dict = {"created": 1_767_225_600, "data": data}
    if gpt_image:
        text_tokens = max(1, len(prompt.split()))
        image_tokens = 272 * n
        payload.update(background="opaque", output_format=kind, quality="medium")
        if f"{width}x{height}" in RESPONSE_SIZES:
            payload["size"] = f"{width}x{height}"
        payload["usage"] = {
            "input_tokens": text_tokens + 65 * input_images,
            "output_tokens": image_tokens,
            "total_tokens": text_tokens + 65 * input_images + image_tokens,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": 65 * input_images},
            "output_tokens_details": {"image_tokens": image_tokens, "text_tokens": 0},
        }
    return ok(payload)


def _invalid_image(message: str, param: str) -> Response:
    return error(400, message, type_="invalid_request_error", code="invalid_image_format", param=param)


async def generations(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    model = str(body.get("model") or "dall-e-2")
    width, height = _dimensions(body.get("size"))
    return _answer(model, body, int(body.get("n") or 1), width, height, str(body["prompt"]), 0)


async def _read_images(uploads: list) -> list[bytes] | Response:
    blobs = []
    for number, upload in enumerate(uploads, start=1):
        blob = await upload.read() if isinstance(upload, UploadFile) else b""
        if image_kind(blob) is None:
            return _invalid_image(
                f"Invalid image file or mode for image {number}, please check your image file.", "image"
            )
        blobs.append(blob)
    return blobs


async def edits(request: Request) -> Response:
    form = await request.form()
    model = str(form.get("model") or "gpt-image-1.5")
    blobs = await _read_images([*form.getlist("image"), *form.getlist("image[]")])
    if isinstance(blobs, Response):
        return blobs
    if not blobs:
        return error(400, "image is required", type_="invalid_request_error", param="image")
    if not _is_gpt_image(model) and (len(blobs) > 1 or image_kind(blobs[0]) != "png"):
        return _invalid_image(f"{model} edits one square PNG image.", "image")
    mask = form.get("mask")
    if isinstance(mask, UploadFile) and image_kind(await mask.read()) != "png":
        return _invalid_image("Invalid mask image: it must be a PNG.", "mask")
    width, height = png_size(blobs[0]) or (1024, 1024)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    return _answer(model, fields, int(form.get("n") or 1), width, height, str(form.get("prompt")), len(blobs))


async def variations(request: Request) -> Response:
    form = await request.form()
    model = str(form.get("model") or "dall-e-2")
    if model != "dall-e-2":
        return error(
            400,
            f"Invalid model {model}. Variations are only served by dall-e-2.",
            type_="invalid_request_error",
            param="model",
        )
    blobs = await _read_images(form.getlist("image"))
    if isinstance(blobs, Response):
        return blobs
    size = png_size(blobs[0]) if len(blobs) == 1 else None
    if size is None or size[0] != size[1] or len(blobs[0]) >= DALL_E_MAX_BYTES:
        return _invalid_image("Uploaded image must be a square PNG less than 4 MB.", "image")
    width, height = _dimensions(form.get("size") or "1024x1024")
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    return _answer(model, fields, int(form.get("n") or 1), width, height, "", 1)


routes = [
    Route("/images/generations", generations, methods=["POST"]),
    Route("/images/edits", edits, methods=["POST"]),
    Route("/images/variations", variations, methods=["POST"]),
]

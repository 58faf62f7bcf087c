"""Request and response models of the Images API: generations, edits and variations."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from airflow_provider_openai_fusion.models._base import RequestModel, ResponseModel

ImageFormat = Literal["png", "jpeg", "webp"]
Quality = Literal["standard", "hd", "low", "medium", "high", "auto"]
Background = Literal["transparent", "opaque", "auto"]
GPT_IMAGE_PREFIXES = ("gpt-image", "chatgpt-image")


def is_gpt_image(model: str | None) -> bool:
    """Whether ``model`` is of the GPT image family, which always answers base64 and refuses ``response_format``."""
    return bool(model) and model.startswith(GPT_IMAGE_PREFIXES)


class GenerateImageRequest(RequestModel):
    """POST /images/generations. ``response_format`` may only be ``b64_json``: the operator writes files."""

    prompt: str = Field(min_length=1)
    model: str | None = None
    n: int | None = Field(default=None, ge=1, le=10)
    size: str | None = None
    quality: Quality | None = None
    response_format: Literal["b64_json"] | None = None
    output_format: ImageFormat | None = None
    output_compression: int | None = Field(default=None, ge=0, le=100)
    background: Background | None = None
    moderation: Literal["low", "auto"] | None = None
    style: Literal["vivid", "natural"] | None = None
    user: str | None = None


class EditImageFields(RequestModel):
    """The form fields of POST /images/edits (the images and the mask are file parts)."""

    prompt: str = Field(min_length=1)
    model: str | None = None
    n: int | None = Field(default=None, ge=1, le=10)
    size: str | None = None
    quality: Literal["standard", "low", "medium", "high", "auto"] | None = None
    response_format: Literal["b64_json"] | None = None
    output_format: ImageFormat | None = None
    output_compression: int | None = Field(default=None, ge=0, le=100)
    background: Background | None = None
    input_fidelity: Literal["high", "low"] | None = None
    user: str | None = None


class ImageVariationFields(RequestModel):
    """The form fields of POST /images/variations (the image is a file part); served by dall-e-2 only."""

    model: str | None = None
    n: int | None = Field(default=None, ge=1, le=10)
    response_format: Literal["b64_json"] | None = None
    size: Literal["256x256", "512x512", "1024x1024"] | None = None
    user: str | None = None


class ImageData(ResponseModel):
    """One image of an answer: base64 data (or, from some servers, a URL) and the revised prompt."""

    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class ImagesResponse(ResponseModel):
    """The answer of the three image endpoints."""

    created: int
    data: list[ImageData] = Field(default_factory=list)
    output_format: str | None = None
    usage: dict[str, Any] | None = None

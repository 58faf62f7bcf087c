"""The Images API: generations, edits and variations (multipart)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from airflow_provider_openai_fusion._http.request import FilePart, RequestSpec
from airflow_provider_openai_fusion.api._base import RequestModel, ResponseModel

ImageFormat = Literal["png", "jpeg", "webp"]
Quality = Literal["standard", "hd", "low", "medium", "high", "auto"]
Background = Literal["transparent", "opaque", "auto"]
GPT_IMAGE_PREFIXES = ("gpt-image", "chatgpt-image")


def is_gpt_image(model: str | None) -> bool:
    """Whether ``model`` is of the GPT image family, which always answers base64 and refuses ``response_format``."""
    return model is not None and model.startswith(GPT_IMAGE_PREFIXES)


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


def form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """
    Encode validated fields as multipart form values (text; lists stay lists).

    :param fields: the validated request fields.
    """
    return {
        name: value if isinstance(value, str | list) else str(value)
        for name, value in fields.items()
        if value is not None
    }


def create_image(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /images/generations.

    :param body: the validated request body.
    """
    return RequestSpec("POST", "images/generations", json=dict(body), response=ImagesResponse)


def edit_image(fields: Mapping[str, Any], images: Sequence[FilePart], mask: FilePart | None) -> RequestSpec:
    """
    POST /images/edits (multipart).

    :param fields: the validated form fields.
    :param images: the image files.
    :param mask: the optional mask file.
    """
    parts = (*images, *((mask,) if mask else ()))
    return RequestSpec("POST", "images/edits", data=form(fields), files=parts, response=ImagesResponse)


def create_image_variation(fields: Mapping[str, Any], image: FilePart) -> RequestSpec:
    """
    POST /images/variations (multipart).

    :param fields: the validated form fields.
    :param image: the image file.
    """
    return RequestSpec("POST", "images/variations", data=form(fields), files=(image,), response=ImagesResponse)

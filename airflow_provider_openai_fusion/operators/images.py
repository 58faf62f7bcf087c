"""
Fusion's "Generate an image" and "Edit image" modules.

Both write the images they get to files under ``output_path`` (a folder: ``<index>.<ext>``, the extension of
the format the bytes actually are) and return ``{"paths", "created", "usage", "revised_prompts"}``. The API
answers with base64 data (``b64_json``), which is decoded and checked (PNG, JPEG or WEBP magic numbers) before
anything is written: invalid image data is an error, never a corrupt file.

Image URLs are never fetched: the operators ask for ``b64_json`` from every model that accepts the field (the
GPT image models always answer base64), and an answer that still carries only URLs fails with a clear message.
Fetching them would mean sending requests to a host the connection does not name.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_openai_fusion.defaults import DEFAULT_MODELS
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator
from airflow_provider_openai_fusion.operators._io import MB, check_file, check_output, local_input, write_outputs

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_openai_fusion._http.request import FilePart

OPERATIONS = ("edit", "variation")
DEFAULT_MODEL = DEFAULT_MODELS["image"]
MAX_EDIT_IMAGES = 16
GPT_IMAGE_MAX_BYTES = 50 * MB
DALL_E_MAX_BYTES = 4 * MB
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_PNG = b"\x89PNG\r\n\x1a\n"


def image_format(data: bytes) -> str | None:
    """
    The image format of ``data`` from its magic numbers: ``png``, ``jpeg``, ``webp``, or ``None``.

    :param data: the image bytes (the first 12 are enough).
    """
    if data.startswith(_PNG):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _png_size(head: bytes) -> tuple[int, int] | None:
    if not head.startswith(_PNG) or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def image_part(
    argument: str, path: Path, *, field: str, formats: Sequence[str], max_bytes: int, square: bool
) -> FilePart:
    """
    Check one input image against an endpoint's limits and describe it as a multipart file part.

    :param argument: the argument's name, for the error.
    :param path: the local image file.
    :param field: the multipart field name.
    :param formats: the accepted image formats.
    :param max_bytes: the endpoint's size limit.
    :param square: whether the image must be square (dall-e-2).
    """
    from airflow_provider_openai_fusion.api._base import file_part

    check_file(argument, path, max_bytes=max_bytes)
    with path.open("rb") as handle:
        head = handle.read(32)
    kind = image_format(head)
    if kind is None or kind not in formats:
        found = f"a {kind.upper()} image" if kind else "not a PNG, JPEG or WEBP image"
        raise InvalidArgumentError(argument, f"{path.name} is {found}; accepted here: {', '.join(formats)}")
    if square:
        size = _png_size(head)
        if size is None or size[0] != size[1]:
            raise InvalidArgumentError(argument, f"{path.name} must be a square PNG for this model")
    return file_part(field, path, CONTENT_TYPES[kind])


def _asked(fields: dict[str, Any]) -> int:
    """How many images a request asks for (``n``, default 1)."""
    return int(fields.get("n") or 1)


def check_output_folder(output_path: Any, count: int) -> None:
    """
    Check before the paid call that ``count`` images can be written into ``output_path``.

    :param output_path: the folder (local or ``ObjectStoragePath`` URI).
    :param count: how many images were asked for.
    """
    names = [f"{index}.{kind}" for index in range(count) for kind in CONTENT_TYPES]
    check_output("output_path", output_path, folder=True, names=names)


def images_result(answer: Any, output_path: Any, asked: int) -> dict[str, Any]:
    """
    Decode and check every image of an answer, write them under ``output_path``, and build the XCom.

    :param answer: the API's JSON answer.
    :param output_path: the folder (local or ``ObjectStoragePath`` URI).
    :param asked: how many images were asked for; an answer with more is refused before anything is written.
    """
    from airflow_provider_openai_fusion.api.images import ImagesResponse

    response = ImagesResponse.model_validate(answer)
    if not response.data:
        raise APIResponseValidationError("the image answer holds no images")
    if len(response.data) > asked:
        raise APIResponseValidationError(
            f"the image answer holds {len(response.data)} images, {asked} were asked for; nothing was written"
        )
    files: list[tuple[str, bytes]] = []
    for index, image in enumerate(response.data):
        if image.b64_json is None:
            raise APIResponseValidationError(
                f"image {index} came as a URL instead of base64 data (b64_json); URLs are not fetched, since that "
                "would send requests to a host the connection does not name. Use a server that honours "
                "response_format='b64_json'"
            )
        try:
            data = base64.b64decode(image.b64_json, validate=True)
        except (binascii.Error, ValueError):
            raise APIResponseValidationError(f"image {index} is not valid base64 data") from None
        kind = image_format(data)
        if kind is None:
            raise APIResponseValidationError(f"image {index} is not a PNG, JPEG or WEBP image ({len(data)} bytes)")
        files.append((f"{index}.{kind}", data))
    return {
        "paths": write_outputs("output_path", output_path, files),
        "created": response.created,
        "usage": response.usage,
        "revised_prompts": [image.revised_prompt for image in response.data],
    }


def _with_b64(fields: dict[str, Any]) -> dict[str, Any]:
    from airflow_provider_openai_fusion.api.images import is_gpt_image

    if not is_gpt_image(fields.get("model")):
        fields.setdefault("response_format", "b64_json")
    return fields


class OpenAIGenerateImageOperator(OpenAIFusionBaseOperator):
    """
    Generate images from a prompt (POST /images/generations) and write them to files.

    :param prompt: what to draw. (templated)
    :param output_path: the folder to write ``0.png``, ``1.png``, ... into: a local path or an
        ``ObjectStoragePath`` URI; reruns overwrite. (templated)
    :param model: the image model; default ``gpt-image-2``, sent explicitly. (templated)
    :param n: how many images (1-10).
    :param size: e.g. ``1024x1024``, ``1536x1024`` or ``auto``. (templated)
    :param advanced: other request fields (``quality``, ``output_format``, ``background``, ...), merged into
        the body. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``{"paths": [...], "created", "usage", "revised_prompts": [...]}``.
    """

    template_fields: Sequence[str] = ("conn_id", "prompt", "model", "size", "output_path", "advanced")
    template_fields_renderers = {"advanced": "json"}

    def __init__(
        self,
        *,
        prompt: str,
        output_path: str,
        model: str = DEFAULT_MODEL,
        n: int | None = None,
        size: str | None = None,
        advanced: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.output_path = output_path
        self.model = model
        self.n = n
        self.size = size
        self.advanced = advanced

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion import _budget
        from airflow_provider_openai_fusion.api._base import request_body
        from airflow_provider_openai_fusion.api.images import GenerateImageRequest, create_image

        named = {"prompt": self.prompt, "model": self.model, "n": self.n, "size": self.size}
        body = _with_b64(request_body(GenerateImageRequest, named, self.advanced))
        check_output_folder(self.output_path, _asked(body))
        self.check_model(body.get("model"))
        self.check_budget(_budget.images, body.get("model"), _asked(body))
        result = images_result(self.hook.request(create_image(body)), self.output_path, _asked(body))
        self.log.info("Wrote %d image(s): %s", len(result["paths"]), ", ".join(result["paths"]))
        self.log_usage(result, body.get("model"))
        return result


class OpenAIEditImageOperator(OpenAIFusionBaseOperator):
    """
    Edit images with a prompt (POST /images/edits), or make variations of one (POST /images/variations).

    ``edit`` takes up to 16 PNG, JPEG or WEBP images under 50 MB each with the GPT image models, or one square
    PNG under 4 MB with ``dall-e-2``; the optional ``mask`` is a PNG under 4 MB. ``variation`` takes one square
    PNG under 4 MB; OpenAI served it only with ``dall-e-2``, which it removed: at OpenAI's base URL a variation
    fails before any request (use ``edit`` with a GPT image model); other servers get it as before.

    :param operation: ``edit`` or ``variation``. (templated)
    :param image: the image path, or a list of paths (local paths or ``ObjectStoragePath`` URIs). (templated)
    :param output_path: the folder to write ``0.png``, ``1.png``, ... into; reruns overwrite. (templated)
    :param prompt: what to change; required with ``edit``, not used by ``variation``. (templated)
    :param mask: a PNG whose transparent areas mark where to edit (``edit`` only). (templated)
    :param model: the model; default ``gpt-image-2`` for ``edit`` and ``dall-e-2`` for ``variation``. (templated)
    :param advanced: other form fields (``n``, ``size``, ``quality``, ``output_format``, ...). (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``{"paths": [...], "created", "usage", "revised_prompts": [...]}``.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "operation",
        "image",
        "mask",
        "prompt",
        "model",
        "output_path",
        "advanced",
    )
    template_fields_renderers = {"advanced": "json"}

    def __init__(
        self,
        *,
        image: str | list[str],
        output_path: str,
        operation: str = "edit",
        prompt: str | None = None,
        mask: str | None = None,
        model: str | None = None,
        advanced: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.operation = operation
        self.image = image
        self.output_path = output_path
        self.prompt = prompt
        self.mask = mask
        self.model = model
        self.advanced = advanced

    def _images(self) -> list[Any]:
        from airflow_provider_openai_fusion.api._base import required

        images = required("image", self.image, f"operation={self.operation!r}")
        return [images] if isinstance(images, str) or not isinstance(images, Sequence) else list(images)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion.api._base import choice
        from airflow_provider_openai_fusion.model_lifecycle import VARIATION_MODEL

        operation = choice("operation", self.operation, OPERATIONS)
        images = self._images()
        with ExitStack() as stack:
            fields, answer = self._edit(images, stack) if operation == "edit" else self._variation(images, stack)
        result = images_result(answer, self.output_path, _asked(fields))
        self.log.info("Wrote %d image(s): %s", len(result["paths"]), ", ".join(result["paths"]))
        self.log_usage(result, self.model or (DEFAULT_MODEL if operation == "edit" else VARIATION_MODEL))
        return result

    def _edit(self, images: list[Any], stack: ExitStack) -> tuple[dict[str, Any], dict[str, Any]]:
        from airflow_provider_openai_fusion.api._base import request_body, required
        from airflow_provider_openai_fusion.api.images import EditImageFields, edit_image
        from airflow_provider_openai_fusion.model_lifecycle import VARIATION_MODEL

        model = self.model or DEFAULT_MODEL
        dall_e = model == VARIATION_MODEL
        limit = 1 if dall_e else MAX_EDIT_IMAGES
        if len(images) > limit:
            raise InvalidArgumentError("image", f"{len(images)} images given; {model} takes at most {limit}")
        named = {"prompt": required("prompt", self.prompt, "operation='edit'"), "model": model}
        fields = _with_b64(request_body(EditImageFields, named, self.advanced))
        check_output_folder(self.output_path, _asked(fields))
        self.check_model(model)
        field = "image" if len(images) == 1 else "image[]"
        formats = ("png",) if dall_e else tuple(CONTENT_TYPES)
        max_bytes = DALL_E_MAX_BYTES if dall_e else GPT_IMAGE_MAX_BYTES
        parts = [
            image_part(
                "image",
                stack.enter_context(local_input("image", value)),
                field=field,
                formats=formats,
                max_bytes=max_bytes,
                square=dall_e,
            )
            for value in images
        ]
        mask = None
        if self.mask is not None:
            mask_path = stack.enter_context(local_input("mask", self.mask))
            mask = image_part(
                "mask", mask_path, field="mask", formats=("png",), max_bytes=DALL_E_MAX_BYTES, square=False
            )
        return fields, self.hook.request(edit_image(fields, parts, mask))

    def _variation(self, images: list[Any], stack: ExitStack) -> tuple[dict[str, Any], dict[str, Any]]:
        from airflow_provider_openai_fusion.api._base import request_body
        from airflow_provider_openai_fusion.api.images import ImageVariationFields, create_image_variation
        from airflow_provider_openai_fusion.model_lifecycle import VARIATION_MODEL, check_variation

        check_variation(base_url=self.hook.settings.base_url)
        if len(images) != 1:
            raise InvalidArgumentError("image", f"operation='variation' takes exactly one image, got {len(images)}")
        for argument, value in (("prompt", self.prompt), ("mask", self.mask)):
            if value is not None:
                raise InvalidArgumentError(argument, "is not used by operation='variation'; remove it")
        fields = _with_b64(request_body(ImageVariationFields, {"model": self.model or VARIATION_MODEL}, self.advanced))
        check_output_folder(self.output_path, _asked(fields))
        path = stack.enter_context(local_input("image", images[0]))
        part = image_part("image", path, field="image", formats=("png",), max_bytes=DALL_E_MAX_BYTES, square=True)
        return fields, self.hook.request(create_image_variation(fields, part))

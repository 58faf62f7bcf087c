"""
Stand-in route: /embeddings.

One deterministic unit vector per input (seeded by the model and the text, so the same text always gives the
same vector), shortened to ``dimensions`` and re-normalised as the ``text-embedding-3-*`` models do, as floats
or base64 float32. Answers carry OpenAI's rate-limit headers.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin.common import error, json_body, ok
from dev.standin.text import tokens

NATIVE_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
MAX_INPUTS = 2048
RATE_LIMIT_HEADERS = {
    "x-ratelimit-limit-requests": "3000",
    "x-ratelimit-remaining-requests": "2999",
    "x-ratelimit-reset-requests": "20ms",
    "x-ratelimit-limit-tokens": "1000000",
    "x-ratelimit-remaining-tokens": "999000",
    "x-ratelimit-reset-tokens": "60ms",
}


def vector(model: str, text: str, dimensions: int) -> list[float]:
    """
    The unit vector of ``text``: the first ``dimensions`` of the model's full vector, re-normalised.

    :param model: the model id.
    :param text: the input.
    :param dimensions: the length wanted.
    """
    rng = random.Random(hashlib.sha256(f"{model}\0{text}".encode()).digest())
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    return [round(value / norm, 7) for value in values]


def _encode(values: list[float], encoding_format: str) -> Any:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")
    return values


def _invalid(message: str, param: str) -> Response:
    return error(400, message, type_="invalid_request_error", param=param)


async def embeddings(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    model = str(body.get("model", ""))
    if model not in NATIVE_DIMENSIONS:
        return error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            type_="invalid_request_error",
            code="model_not_found",
            param="model",
        )
    value = body.get("input")
    items = [value] if isinstance(value, str) or (value and isinstance(value[0], int)) else list(value or [])
    texts = [item if isinstance(item, str) else " ".join(map(str, item)) for item in items]
    if not texts or len(texts) > MAX_INPUTS or any(not text for text in texts):
        return _invalid("'$.input' is invalid. Please check the API reference.", "input")
    native = NATIVE_DIMENSIONS[model]
    dimensions = body.get("dimensions")
    if dimensions is not None and model == "text-embedding-ada-002":
        return _invalid("This model does not support specifying dimensions.", "dimensions")
    if dimensions is not None and not 1 <= dimensions <= native:
        return _invalid(f"Invalid value for 'dimensions' = {dimensions}. Must be between 1 and {native}.", "dimensions")
    encoding_format = body.get("encoding_format") or "float"
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _encode(vector(model, text, dimensions or native), encoding_format),
        }
        for index, text in enumerate(texts)
    ]
    used = sum(tokens(text) for text in texts)
    response = ok(
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": used, "total_tokens": used}}
    )
    response.headers.update(RATE_LIMIT_HEADERS)
    return response


routes = [Route("/embeddings", embeddings, methods=["POST"])]

"""The Embeddings API: POST /embeddings, how a long input is split into requests, and how the answers merge."""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.api._base import RequestModel, ResponseModel
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError

MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000
BYTES_PER_TOKEN = 3


class EmbeddingsRequest(RequestModel):
    """
    The fields of POST /embeddings. ``input`` holds every text the operator was given (any number of them);
    :func:`batches` splits it into requests within the API's caps.
    """

    model: Annotated[str, Field(min_length=1)]
    input: str | Annotated[list[str], Field(min_length=1)]
    dimensions: Annotated[int, Field(ge=1)] | None = None
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _no_empty_text(cls, value: str | list[str]) -> str | list[str]:
        texts = [value] if isinstance(value, str) else value
        for position, text in enumerate(texts):
            if not text.strip():
                raise ValueError(f"text {position} is empty; the API rejects empty inputs")
        return value


def estimate_tokens(text: str) -> int:
    """
    Estimate the tokens of ``text`` without a tokenizer: one token per 3 bytes of UTF-8, rounded up.

    English averages about 4 characters per token, so this over-counts plain text by about a quarter; a CJK
    character is 3 bytes in UTF-8 and usually one token or a little more. Good enough to keep a request under
    the API's cap of :data:`MAX_TOKENS_PER_REQUEST` tokens.

    :param text: one input.
    """
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def batches(
    texts: Sequence[str],
    max_inputs: int = MAX_INPUTS_PER_REQUEST,
    max_tokens: int = MAX_TOKENS_PER_REQUEST,
) -> list[tuple[int, int]]:
    """
    Split ``texts`` into consecutive ``(start, stop)`` slices, each within ``max_inputs`` inputs and about
    ``max_tokens`` estimated tokens. A text estimated above ``max_tokens`` on its own is an error.

    :param texts: the inputs, in order.
    :param max_inputs: the most inputs in one request.
    :param max_tokens: the most estimated tokens in one request.
    """
    slices: list[tuple[int, int]] = []
    start, tokens = 0, 0
    for position, text in enumerate(texts):
        cost = estimate_tokens(text)
        if cost > max_tokens:
            raise ValueError(f"text {position} is about {cost:,} tokens, more than the {max_tokens:,} of a request")
        if position > start and (position - start >= max_inputs or tokens + cost > max_tokens):
            slices.append((start, position))
            start, tokens = position, 0
        tokens += cost
    if start < len(texts):
        slices.append((start, len(texts)))
    return slices


class Embedding(ResponseModel):
    """One vector of an answer: floats, or base64 of little-endian float32 values."""

    index: int
    embedding: list[float] | str


class EmbeddingsResponse(ResponseModel):
    """The answer of POST /embeddings."""

    data: list[Embedding]
    model: str | None = None
    usage: dict[str, Any] | None = None


def create_embeddings(body: Mapping[str, Any]) -> RequestSpec:
    """
    POST /embeddings.

    :param body: the validated request body (one request's worth of inputs).
    """
    return RequestSpec("POST", "embeddings", json=dict(body), response=EmbeddingsResponse)


def decode_vector(embedding: Any) -> list[float]:
    """
    A vector as floats: base64 answers (``encoding_format="base64"``) hold little-endian float32 values.

    :param embedding: the ``embedding`` field of one answer item.
    """
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return embedding


def merge_responses(slices: Sequence[tuple[int, int]], responses: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """
    Merge the answers of consecutive slices into one response-shaped dict: ``index`` is the position in the
    operator's whole input, ``usage`` is summed.

    :param slices: the ``(start, stop)`` of each request, in input order.
    :param responses: each request's answer, in the same order.
    """
    data: list[dict[str, Any]] = []
    usage = {"prompt_tokens": 0, "total_tokens": 0}
    for (start, stop), response in zip(slices, responses, strict=True):
        items = sorted(response.get("data") or [], key=lambda item: item["index"])
        if [item["index"] for item in items] != list(range(stop - start)):
            raise APIResponseValidationError(
                f"the answer for inputs {start}-{stop - 1} does not hold one vector per input"
            )
        data += [
            {"object": "embedding", "index": start + item["index"], "embedding": decode_vector(item["embedding"])}
            for item in items
        ]
        for key in usage:
            usage[key] += int((response.get("usage") or {}).get(key) or 0)
    return {"object": "list", "data": data, "model": responses[0].get("model") if responses else None, "usage": usage}

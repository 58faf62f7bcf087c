"""Request model of POST /embeddings, and how the operator splits a long input into requests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, field_validator

from airflow_provider_openai_fusion.models._base import RequestModel

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

"""The Embeddings API: POST /embeddings, how a long input is split into requests, and how the answers merge."""

from __future__ import annotations

import base64
import operator
import struct
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate, chain
from typing import Annotated, Any, Literal, NamedTuple, cast

from pydantic import AfterValidator, Field, field_validator

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.api._base import RequestModel, ResponseModel
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError

MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000
BYTES_PER_TOKEN = 3


class Batch(NamedTuple):
    """
    The inputs of one request: ``texts[start:stop]``, about ``tokens`` tokens.

    :param start: the first input's position.
    :param stop: the position after the last input.
    :param tokens: the estimated tokens of these inputs.
    """

    start: int
    stop: int
    tokens: int


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
        if not all(map(str.strip, texts)):
            position = next(position for position, text in enumerate(texts) if not text.strip())
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
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    return -(-size // BYTES_PER_TOKEN)


def _token_sizes(texts: Sequence[str]) -> list[int]:
    """:func:`estimate_tokens` of each text, in C loops when all are ASCII (50,000 texts: a few milliseconds)."""
    if "".join(texts).isascii():
        sizes: Iterable[int] = map(len, texts)
    else:
        sizes = [len(text) if text.isascii() else len(text.encode("utf-8")) for text in texts]
    return [-(-size // BYTES_PER_TOKEN) for size in sizes]


def batches(
    texts: Sequence[str],
    max_inputs: int = MAX_INPUTS_PER_REQUEST,
    max_tokens: int = MAX_TOKENS_PER_REQUEST,
) -> list[Batch]:
    """
    Split ``texts`` into consecutive slices, each within ``max_inputs`` inputs and about ``max_tokens`` estimated
    tokens (:func:`estimate_tokens`), with their estimated tokens (the rate-limit gate's cost). A text estimated
    above ``max_tokens`` on its own is an error. Each slice ends where the running sum of the estimates passes its
    start's plus ``max_tokens`` (found by bisection), so only the estimates are a loop over the texts.

    :param texts: the inputs, in order.
    :param max_inputs: the most inputs in one request.
    :param max_tokens: the most estimated tokens in one request.
    """
    costs = _token_sizes(texts)
    if costs and max(costs) > max_tokens:
        position = next(position for position, cost in enumerate(costs) if cost > max_tokens)
        cost = estimate_tokens(texts[position])
        raise ValueError(f"text {position} is about {cost:,} tokens, more than the {max_tokens:,} of a request")
    ends = list(accumulate(costs))
    slices: list[Batch] = []
    start = 0
    while start < len(costs):
        before = ends[start - 1] if start else 0
        stop = min(start + max_inputs, bisect_right(ends, before + max_tokens, start))
        slices.append(Batch(start, stop, ends[stop - 1] - before))
        start = stop
    return slices


def _is_vector(value: Any) -> bool:
    """Base64 text, or a non-empty list whose first and last items are numbers."""
    if isinstance(value, str):
        return True
    return isinstance(value, list) and bool(value) and type(value[0]) in _NUMBERS and type(value[-1]) in _NUMBERS


_NUMBERS = (float, int)
_INDEX, _EMBEDDING = operator.itemgetter("index"), operator.itemgetter("embedding")
_FIRST, _LAST = operator.itemgetter(0), operator.itemgetter(-1)


def _all_vectors(items: list[Any]) -> bool:
    """
    Whether every item is a dict with an integer ``index`` and a vector (:func:`_is_vector`), found in C loops
    (``map`` over the items, their fields and the vectors' ends) rather than a Python loop over the items. An item
    that is not a dict, or lacks a field, stops the field's ``itemgetter``.
    """
    try:
        if set(map(type, map(_INDEX, items))) - {int}:
            return False
        embeddings: list[Any] = list(map(_EMBEDDING, items))
    except (KeyError, TypeError):
        return False
    kinds = set(map(type, embeddings))
    if kinds - {str, list}:
        return False
    vectors: list[list[Any]] = [value for value in embeddings if type(value) is list] if str in kinds else embeddings
    if not all(vectors):
        return False
    ends = chain(map(_FIRST, vectors), map(_LAST, vectors))
    return not set(map(type, ends)) - set(_NUMBERS)


def _vectors(items: list[Any]) -> list[Any]:
    """
    Check each item of an answer: an integer ``index`` and a vector (all at once, then one by one to name the
    first bad item). The floats inside a vector are not walked, nor copied into models: an answer holds up to
    2,048 vectors of up to 3,072 floats, and checking each float cost as much as decoding the JSON (the provider
    passes them on as they are).
    """
    if _all_vectors(items):
        return items
    for position, item in enumerate(items):
        if not isinstance(item, dict) or type(item.get("index")) is not int:
            raise ValueError(f"item {position} has no integer 'index'")
        if not _is_vector(item.get("embedding")):
            raise ValueError(f"item {position}: 'embedding' must be a non-empty list of numbers, or base64 text")
    return items


class EmbeddingsResponse(ResponseModel):
    """The answer of POST /embeddings: ``data`` holds ``{"object", "index", "embedding"}`` items."""

    data: Annotated[list[Any], AfterValidator(_vectors)]
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
    return cast("list[float]", embedding)


def merge_responses(slices: Sequence[Batch], responses: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """
    Merge the answers of consecutive slices into one response-shaped dict: ``index`` is the position in the
    operator's whole input, ``usage`` is summed. The answers' items are reused (their ``index`` shifted, base64
    vectors decoded), not copied.

    :param slices: the batch of each request, in input order.
    :param responses: each request's answer, in the same order.
    """
    data: list[dict[str, Any]] = []
    usage = {"prompt_tokens": 0, "total_tokens": 0}
    for (start, stop, _), response in zip(slices, responses, strict=True):
        items = response.get("data") or []
        expected = list(range(stop - start))
        if list(map(_INDEX, items)) != expected:
            items = sorted(items, key=_INDEX)
            if list(map(_INDEX, items)) != expected:
                raise APIResponseValidationError(
                    f"the answer for inputs {start}-{stop - 1} does not hold one vector per input"
                )
        if str in set(map(type, map(_EMBEDDING, items))):  # base64 (all of them, unless the server mixes)
            for item in items:
                item["embedding"] = decode_vector(item["embedding"])
        if start:
            for item in items:
                item["index"] += start
        data += items
        for key in usage:
            usage[key] += int((response.get("usage") or {}).get(key) or 0)
    return {"object": "list", "data": data, "model": responses[0].get("model") if responses else None, "usage": usage}

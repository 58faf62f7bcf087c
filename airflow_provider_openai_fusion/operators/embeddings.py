"""Fusion's "Create embeddings" module: any number of inputs, split into requests sent concurrently."""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any

from airflow.sdk import Context

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

DEFAULT_MAX_CONCURRENCY = 4
MAX_XCOM_BYTES = 32 * 1024 * 1024
JSON_BYTES_PER_FLOAT = 20
MAX_JSON_BYTES_PER_FLOAT = 32
DEFAULT_DIMENSIONS = 1536
MAX_UNKNOWN_DIMENSIONS = 16_384
"""The most dimensions accepted from a model whose size is not known (and no ``dimensions`` was asked for)."""
MODEL_DIMENSIONS = {"text-embedding-3-large": 3072, "text-embedding-3-small": 1536, "text-embedding-ada-002": 1536}


def expected_dimensions(model: str, dimensions: int | None) -> int | None:
    """
    The length every vector must have: the ``dimensions`` asked for, else the model's known size; ``None`` when
    neither is known (then the vectors must agree with each other, at most :data:`MAX_UNKNOWN_DIMENSIONS`).

    :param model: the model.
    :param dimensions: the ``dimensions`` asked for, if any.
    """
    return dimensions or MODEL_DIMENSIONS.get(model)


def answer_cap(count: int, dims: int | None) -> int:
    """
    The most bytes an answer embedding ``count`` texts may take: ``count`` vectors of ``dims`` floats (else
    :data:`MAX_UNKNOWN_DIMENSIONS`) at :data:`MAX_JSON_BYTES_PER_FLOAT` bytes each, plus room for the rest.

    :param count: the texts in the request.
    :param dims: the expected dimensions, if known.
    """
    return count * ((dims or MAX_UNKNOWN_DIMENSIONS) * MAX_JSON_BYTES_PER_FLOAT + 512) + 64 * 1024


def check_vectors(data: Sequence[Mapping[str, Any]], dims: int | None) -> int:
    """
    Check that every vector has the expected length (or, unknown, one length within
    :data:`MAX_UNKNOWN_DIMENSIONS`); return that length.

    :param data: the vectors, in input order.
    :param dims: the expected dimensions, if known.
    """
    from airflow_provider_openai_fusion.exceptions import APIResponseValidationError

    want = dims if dims is not None else (len(data[0]["embedding"]) if data else 0)
    if set(map(len, map(operator.itemgetter("embedding"), data))) <= {want} and want <= (
        dims or MAX_UNKNOWN_DIMENSIONS
    ):
        return want  # all at once (a C loop); one by one below only to name the first bad vector
    for item in data:
        size = len(item["embedding"])
        if size != want or size > (dims or MAX_UNKNOWN_DIMENSIONS):
            asked = (
                f"{dims:,} were expected" if dims else f"the others have {want:,}, at most {MAX_UNKNOWN_DIMENSIONS:,}"
            )
            raise APIResponseValidationError(
                f"the vector of input {item['index']} has {size:,} dimensions; {asked}: refused before it reaches "
                "an XCom or a file"
            )
    return want


def check_xcom_size(count: int, model: str, dimensions: int | None) -> None:
    """
    Refuse, before sending, a result too big for an XCom: ``count`` vectors of ``dimensions`` (or the model's
    known size, else :data:`DEFAULT_DIMENSIONS`) floats at about :data:`JSON_BYTES_PER_FLOAT` bytes of JSON each.

    :param count: how many texts.
    :param model: the model.
    :param dimensions: the ``dimensions`` asked for, if any.
    """
    dims = dimensions or MODEL_DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
    estimate = count * dims * JSON_BYTES_PER_FLOAT
    if estimate > MAX_XCOM_BYTES:
        raise InvalidArgumentError(
            "output_path",
            f"is needed: {count:,} vectors of {dims:,} dimensions make about {estimate / 2**20:,.0f} MiB of JSON, "
            f"more than the {MAX_XCOM_BYTES // 2**20} MiB an XCom may hold here; set output_path to write them to a "
            "file (the XCom then holds only a summary)",
        )


def write_jsonl(path: str, data: Sequence[Mapping[str, Any]]) -> str:
    """
    Write one ``{"index", "embedding"}`` line per vector to a local path (under a temporary name, renamed when
    complete) or an ``ObjectStoragePath`` URI; return where it went.

    :param path: a local path or an object-storage URI.
    :param data: the vectors, in input order.
    """
    from airflow_provider_openai_fusion._atomic import write_atomically
    from airflow_provider_openai_fusion.operators._io import write_output

    content = "".join(json.dumps({"index": item["index"], "embedding": item["embedding"]}) + "\n" for item in data)
    return write_output("output_path", path, lambda local: write_atomically(local, content.encode("utf-8")))


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return f"a list holding {', '.join(sorted({type(item).__name__ for item in value}))}"
    return type(value).__name__


class OpenAIEmbeddingsOperator(OpenAIFusionBaseOperator):
    """
    Create embeddings for any number of texts (POST /embeddings).

    The texts are split into requests within the API's caps (2,048 inputs and about 300,000 tokens per
    request, tokens estimated as one per 3 bytes of UTF-8), sent concurrently (at most ``max_concurrency`` at a
    time, paced by the request and token limits the server announces in its ``x-ratelimit-*`` headers), and merged
    back in input order. While the answers of a result returned as an XCom come in and are merged, Python's
    cyclic garbage collector is paused, and restored after, on error too: the vectors are acyclic and freed by
    reference counting as usual, and are not walked again and again while they pile up (with 50,000 vectors, a
    full collection of the whole process, about 0.1 s, in most runs).

    :param model: the embedding model, e.g. ``text-embedding-3-small``. (templated)
    :param input: one text or a list of texts of any length (a JSON list as text is accepted). (templated)
    :param user: an end-user id passed to the API. (templated)
    :param limit: a cost guard: more inputs than this fails the task before any request.
    :param dimensions: the vectors' length (``text-embedding-3-*`` models only).
    :param advanced: any other field of the API request, e.g. ``{"encoding_format": "base64"}`` (vectors are
        decoded to floats either way). (templated)
    :param output_path: a local path or an ``ObjectStoragePath`` URI: the vectors go there as JSON lines
        (``{"index", "embedding"}``) and the XCom holds only a summary. Needed when the vectors would make more
        than 32 MiB of JSON (estimated before sending as texts x dimensions x 20 bytes, e.g. above about 1,090
        texts of 1,536 dimensions). (templated)
    :param max_concurrency: the most requests in flight at once.
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``{"object": "list", "data": [{"object", "index", "embedding"}...], "model", "usage"}`` with
        ``index`` the position in ``input``; with ``output_path``: ``{"path", "count", "dimensions", "usage"}``.
    """

    template_fields: Sequence[str] = ("conn_id", "model", "input", "user", "advanced", "output_path")
    template_fields_renderers = {"input": "json", "advanced": "json"}

    def __init__(
        self,
        *,
        model: str,
        input: str | list[str],
        user: str | None = None,
        limit: int | None = None,
        dimensions: int | None = None,
        advanced: dict[str, Any] | str | None = None,
        output_path: str | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.input = input
        self.user = user
        self.limit = limit
        self.dimensions = dimensions
        self.advanced = advanced
        self.output_path = output_path
        self.max_concurrency = max_concurrency

    def _texts(self) -> list[str] | str:
        from airflow_provider_openai_fusion.api._base import required, text_or_list

        value = required("input", text_or_list(self.input), "embeddings")
        if not isinstance(value, str) and not (isinstance(value, list) and all(map(isinstance, value, repeat(str)))):
            raise InvalidArgumentError("input", f"must be a text or a list of texts, got {_kind(value)}")
        return value

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion import _budget
        from airflow_provider_openai_fusion._collector import collector_paused
        from airflow_provider_openai_fusion.api._base import positive_int, validate_request
        from airflow_provider_openai_fusion.api.embeddings import (
            EmbeddingsRequest,
            batches,
            create_embeddings,
            merge_responses,
        )
        from airflow_provider_openai_fusion.operators._io import check_output

        limit = positive_int("limit", self.limit)
        concurrency = positive_int("max_concurrency", self.max_concurrency) or DEFAULT_MAX_CONCURRENCY
        if self.output_path is not None:
            check_output("output_path", self.output_path)
        named = {"model": self.model, "input": self._texts(), "user": self.user, "dimensions": self.dimensions}
        request = validate_request(EmbeddingsRequest, named, self.advanced)
        texts = [request.input] if isinstance(request.input, str) else request.input
        if limit is not None and len(texts) > limit:
            raise InvalidArgumentError("input", f"holds {len(texts)} texts, more than limit={limit}")
        if not self.output_path:
            check_xcom_size(len(texts), request.model, request.dimensions)
        try:
            slices = batches(texts)
        except ValueError as exc:
            raise InvalidArgumentError("input", str(exc)) from None
        common = request.model_dump(mode="json", exclude_none=True, exclude={"input"})
        bodies = [{**common, "input": texts[start:stop]} for start, stop, _ in slices]
        self.log.info(
            "Embedding %d texts with %s in %d requests (at most %d at a time)",
            len(texts),
            request.model,
            len(bodies),
            concurrency,
        )
        self.check_model(request.model)
        self.check_budget(_budget.embeddings, request.model, sum(batch.tokens for batch in slices), len(bodies))
        want = expected_dimensions(request.model, request.dimensions)
        specs = [
            dataclasses.replace(create_embeddings(body), max_bytes=answer_cap(len(body["input"]), want))
            for body in bodies
        ]
        with collector_paused(when=not self.output_path):  # an XCom result: bounded, see _collector.py
            answers = self.hook.bulk(specs, concurrency, tokens=[batch.tokens for batch in slices])
            result = merge_responses(slices, answers)
        dims = check_vectors(result["data"], want)
        self.log.info("%d vectors of %d dimensions", len(result["data"]), dims)
        self.log_usage(result, request.model, calls=len(bodies))
        if not self.output_path:
            return result
        path = write_jsonl(self.output_path, result["data"])
        self.log.info("Vectors written to %s", path)
        return {"path": path, "count": len(result["data"]), "dimensions": dims, "usage": result["usage"]}

"""Fusion's "Create embeddings" module: any number of inputs, split into requests sent concurrently."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import struct
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator, required

DEFAULT_MAX_CONCURRENCY = 4
MAX_RATE_LIMIT_WAIT = 60.0
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str | None) -> float | None:
    """
    Read an ``x-ratelimit-reset-*`` header such as ``1s``, ``20ms``, ``6m0s`` or ``1h2m3.5s`` as seconds.

    :param value: the header's value; ``None`` or an unreadable value gives ``None``.
    """
    if not value:
        return None
    text = value.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        try:
            return max(float(text), 0.0)
        except ValueError:
            return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


class RateLimitGate:
    """
    Holds requests back while the server says none are left: when an answer carries
    ``x-ratelimit-remaining-requests: 0``, nothing more is sent until ``x-ratelimit-reset-requests`` has passed
    (capped at :data:`MAX_RATE_LIMIT_WAIT` seconds).

    :param sleep: the coroutine that waits (``asyncio.sleep``; a recorder in tests).
    :param clock: a monotonic clock in seconds.
    """

    def __init__(
        self,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        self.not_before = 0.0

    async def wait(self) -> None:
        """Wait until requests may be sent again."""
        while (delay := self.not_before - self._clock()) > 0:
            await self._sleep(delay)

    def observe(self, headers: Mapping[str, str]) -> float:
        """
        Read an answer's rate-limit headers; return how long requests are now held back (0 if they are not).

        :param headers: the response headers (lower-cased names).
        """
        if headers.get("x-ratelimit-remaining-requests", "").strip() != "0":
            return 0.0
        reset = parse_reset(headers.get("x-ratelimit-reset-requests"))
        delay = min(reset if reset is not None else 1.0, MAX_RATE_LIMIT_WAIT)
        self.not_before = max(self.not_before, self._clock() + delay)
        return delay


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


def write_jsonl(path: str, data: Sequence[Mapping[str, Any]]) -> str:
    """
    Write one ``{"index", "embedding"}`` line per vector to a local path (under a temporary name, renamed when
    complete) or an ``ObjectStoragePath`` URI; return where it went.

    :param path: a local path or an object-storage URI.
    :param data: the vectors, in input order.
    """
    from airflow_provider_openai_fusion._paths import write_atomically, write_output

    content = "".join(json.dumps({"index": item["index"], "embedding": item["embedding"]}) + "\n" for item in data)
    return write_output("output_path", path, lambda local: write_atomically(local, content.encode("utf-8")))


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return f"a list holding {', '.join(sorted({type(item).__name__ for item in value}))}"
    return type(value).__name__


def _positive_int(argument: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(argument, f"must be a positive integer, got {value!r}")
    return value


class OpenAIEmbeddingsOperator(OpenAIFusionBaseOperator):
    """
    Create embeddings for any number of texts (POST /embeddings).

    The texts are split into requests within the API's caps (2,048 inputs and about 300,000 tokens per
    request, tokens estimated as one per 3 bytes of UTF-8), sent concurrently (at most ``max_concurrency`` at a
    time, holding back while the server's ``x-ratelimit-remaining-requests`` is 0), and merged back in input
    order.

    :param model: the embedding model, e.g. ``text-embedding-3-small``. (templated)
    :param input: one text or a list of texts of any length (a JSON list as text is accepted). (templated)
    :param user: an end-user id passed to the API. (templated)
    :param limit: a cost guard: more inputs than this fails the task before any request.
    :param dimensions: the vectors' length (``text-embedding-3-*`` models only).
    :param advanced: any other field of the API request, e.g. ``{"encoding_format": "base64"}`` (vectors are
        decoded to floats either way). (templated)
    :param output_path: a local path or an ``ObjectStoragePath`` URI: the vectors go there as JSON lines
        (``{"index", "embedding"}``) and the XCom holds only a summary. (templated)
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
        value = self.input
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        value = list(value) if isinstance(value, tuple) else required("input", value, "embeddings")
        if not isinstance(value, str) and not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
            raise InvalidArgumentError("input", f"must be a text or a list of texts, got {_kind(value)}")
        return value

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion._paths import path_text
        from airflow_provider_openai_fusion.models._base import validate_request
        from airflow_provider_openai_fusion.models.embeddings import EmbeddingsRequest, batches

        limit = _positive_int("limit", self.limit)
        concurrency = _positive_int("max_concurrency", self.max_concurrency)
        if self.output_path is not None:
            path_text("output_path", self.output_path)
        named = {"model": self.model, "input": self._texts(), "user": self.user, "dimensions": self.dimensions}
        request = validate_request(EmbeddingsRequest, named, self.advanced)
        texts = [request.input] if isinstance(request.input, str) else request.input
        if limit is not None and len(texts) > limit:
            raise InvalidArgumentError("input", f"holds {len(texts)} texts, more than limit={limit}")
        try:
            slices = batches(texts)
        except ValueError as exc:
            raise InvalidArgumentError("input", str(exc)) from None
        common = request.model_dump(mode="json", exclude_none=True, exclude={"input"})
        bodies = [{**common, "input": texts[start:stop]} for start, stop in slices]
        self.log.info(
            "Embedding %d texts with %s in %d requests (at most %d at a time)",
            len(texts),
            request.model,
            len(bodies),
            concurrency,
        )
        self.hook.get_conn()
        result = merge_responses(slices, asyncio.run(self._send_all(bodies, concurrency)))
        dims = len(result["data"][0]["embedding"]) if result["data"] else 0
        self.log.info("%d vectors of %d dimensions; usage %s", len(result["data"]), dims, result["usage"])
        if not self.output_path:
            return result
        path = write_jsonl(self.output_path, result["data"])
        self.log.info("Vectors written to %s", path)
        return {"path": path, "count": len(result["data"]), "dimensions": dims, "usage": result["usage"]}

    async def _send_all(self, bodies: Sequence[dict[str, Any]], concurrency: int) -> list[dict[str, Any]]:
        from airflow_provider_openai_fusion import _calls
        from airflow_provider_openai_fusion._core import decode_json

        semaphore = asyncio.Semaphore(concurrency)
        gate = RateLimitGate()

        async def send(body: dict[str, Any]) -> dict[str, Any]:
            async with semaphore:
                await gate.wait()
                answer = await self.hook.arequest_raw(_calls.create_embeddings(body))
                if delay := gate.observe(answer.headers):
                    self.log.info("Rate limit reached: holding requests back for %.2f s", delay)
                return decode_json(answer.content, answer.headers.get("x-request-id"))

        tasks = [asyncio.ensure_future(send(body)) for body in bodies]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            await self.hook.aclose()

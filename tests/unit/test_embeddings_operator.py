"""The embeddings operator: splitting within the API's caps, bounded concurrency, rate limits, merge, output."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion.api.embeddings import batches, estimate_tokens
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, BadRequestError, InvalidArgumentError
from airflow_provider_openai_fusion.operators import OpenAIEmbeddingsOperator
from tests.unit.helpers import Script, error, raises


def vector_of(text: str) -> list[float]:
    """A small vector that tells which text it belongs to."""
    return [float(len(text)), float(sum(map(ord, text)) % 97)]


YIELDS = 10_000
"""The most times a held answer yields to the event loop waiting for the others (a bound, not a delay)."""


class Server:
    """
    An async MockTransport handler answering /embeddings like the API, recording each request's inputs. With
    ``overlap``, each answer is held until that many requests are in flight (or all ``expected`` have arrived),
    then the later arrivals are answered first: ordering by counts and yields, not by sleeps.
    """

    def __init__(
        self,
        overlap: int = 1,
        expected: int = 1,
        headers: dict[str, str] | None = None,
        base64_vectors: bool | str = False,
    ):
        self.overlap = overlap
        self.expected = expected
        self.headers = headers or {}
        self.base64_vectors = base64_vectors
        self.bodies: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.answered: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.collector: list[bool] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(await request.aread())
        self.bodies.append(body)
        self.collector.append(gc.isenabled())
        self.times.append(time.monotonic())
        arrived = len(self.bodies)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        for _ in range(YIELDS):
            if self.in_flight >= self.overlap or arrived >= self.expected:
                break
            await asyncio.sleep(0)
        for _ in range(self.expected - arrived):
            await asyncio.sleep(0)
        self.answered.append(arrived)
        self.in_flight -= 1
        data = [
            {"object": "embedding", "index": i, "embedding": self._encode(vector_of(text), i)}
            for i, text in reversed(list(enumerate(body["input"])))
        ]
        usage = {"prompt_tokens": len(body["input"]), "total_tokens": len(body["input"])}
        payload = {"object": "list", "data": data, "model": body["model"], "usage": usage}
        return httpx.Response(200, json=payload, headers={"x-request-id": "req_1", **self.headers})

    def _encode(self, values: list[float], index: int) -> Any:
        """The vector as a list, or as base64 (with ``base64_vectors="odd"``, only at odd indexes: a broken server)."""
        if not self.base64_vectors or (self.base64_vectors == "odd" and index % 2 == 0):
            return values
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def operator(make_hook: Any, handler: Any, **kwargs: Any) -> OpenAIEmbeddingsOperator:
    """The fake answers 2-dimension vectors, so the requests ask for 2 (vectors are checked against it)."""
    op = OpenAIEmbeddingsOperator(task_id="embed", **{"model": "text-embedding-3-small", "dimensions": 2, **kwargs})
    op.hook = make_hook(handler)
    return op


def test_one_text_is_one_request_and_a_response_shaped_result(make_hook) -> None:
    server = Server()
    result = operator(make_hook, server, input="hello", dimensions=2, user="u1").execute({})
    assert server.bodies == [{"model": "text-embedding-3-small", "input": ["hello"], "dimensions": 2, "user": "u1"}]
    assert result == {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": vector_of("hello")}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }


def test_many_texts_are_split_at_2048_and_merged_in_input_order(make_hook) -> None:
    texts = [f"text {i}" for i in range(5000)]
    server = Server(overlap=3, expected=3)
    result = operator(make_hook, server, input=texts, dimensions=2).execute({})
    assert [len(body["input"]) for body in server.bodies] == [2048, 2048, 904]
    assert server.answered == [3, 2, 1], "answered last request first"
    assert [item["index"] for item in result["data"]] == list(range(5000))
    assert all(item["embedding"] == vector_of(texts[item["index"]]) for item in result["data"])
    assert result["usage"] == {"prompt_tokens": 5000, "total_tokens": 5000}


def test_requests_are_concurrent_within_max_concurrency(make_hook) -> None:
    texts = ["x" * 450_000] * 10
    server = Server(overlap=2, expected=5)
    result = operator(make_hook, server, input=texts, max_concurrency=2).execute({})
    assert [len(body["input"]) for body in server.bodies] == [2] * 5
    assert server.max_in_flight == 2
    assert len(result["data"]) == 10


def test_json_text_input_from_a_template_is_a_list(make_hook) -> None:
    server = Server()
    result = operator(make_hook, server, input='["a", "bb"]').execute({})
    assert server.bodies[0]["input"] == ["a", "bb"] and len(result["data"]) == 2


def test_base64_vectors_are_decoded_to_floats(make_hook) -> None:
    server = Server(base64_vectors=True)
    result = operator(make_hook, server, input=["ab", "c"], advanced={"encoding_format": "base64"}).execute({})
    assert server.bodies[0]["encoding_format"] == "base64"
    assert [item["embedding"] for item in result["data"]] == [vector_of("ab"), vector_of("c")]


def test_an_answer_mixing_base64_and_float_vectors_is_decoded_whole(make_hook) -> None:
    """A server that answers some vectors as base64 and some as lists (its first item a list): all are floats."""
    server = Server(base64_vectors="odd")
    result = operator(make_hook, server, input=["ab", "c", "ddd"]).execute({})
    assert [item["embedding"] for item in result["data"]] == [vector_of(t) for t in ["ab", "c", "ddd"]]


def test_rate_limit_headers_hold_the_next_request_back(make_hook) -> None:
    server = Server(headers={"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "150ms"})
    operator(make_hook, server, input=["x" * 600_000] * 2, max_concurrency=1).execute({})
    assert len(server.times) == 2 and server.times[1] - server.times[0] >= 0.15


def test_output_path_gets_json_lines_and_xcom_a_summary(make_hook, tmp_path: Path) -> None:
    target = tmp_path / "out" / "vectors.jsonl"
    result = operator(make_hook, Server(), input=["a", "bb", "ccc"], output_path=str(target)).execute({})
    assert result == {
        "path": str(target),
        "count": 3,
        "dimensions": 2,
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines == [{"index": i, "embedding": vector_of(t)} for i, t in enumerate(["a", "bb", "ccc"])]
    assert [p.name for p in target.parent.iterdir()] == ["vectors.jsonl"]


def test_output_path_may_be_an_object_storage_uri(make_hook, tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/vectors.jsonl"
    result = operator(make_hook, Server(), input=["a"], output_path=uri).execute({})
    assert result["count"] == 1 and (tmp_path / "vectors.jsonl").read_text().startswith('{"index": 0,')


@pytest.mark.parametrize(
    ("kwargs", "argument", "reason"),
    [
        ({"input": ["a", "b", "c"], "limit": 2}, "input", "holds 3 texts, more than limit=2"),
        ({"input": "a", "limit": 0}, "limit", "positive integer"),
        ({"input": "a", "max_concurrency": 0}, "max_concurrency", "positive integer"),
        ({"input": ["a", " "]}, "input", "text 1 is empty"),
        ({"input": []}, "input", "required"),
        ({"input": {"a": 1}}, "input", "must be a text or a list of texts, got dict"),
        ({"input": [1, "a"]}, "input", "got a list holding int, str"),
        ({"input": ["x" * 1_000_000]}, "input", "more than the 300,000"),
        ({"input": "a", "dimensions": 0}, "dimensions", "greater than or equal to 1"),
        ({"input": "a", "model": "   "}, "model", "is blank"),
        ({"input": "a", "advanced": {"model": "x"}}, "advanced", "named argument"),
        ({"input": "a", "advanced": {"encoding_format": "int8"}}, "advanced.encoding_format", "'float' or 'base64'"),
        ({"input": "a", "advanced": {"temperature": 1}}, "advanced.temperature", "not a field"),
        ({"input": "a", "output_path": " "}, "output_path", "local path"),
    ],
)
def test_bad_input_fails_before_any_request(make_hook, kwargs: dict, argument: str, reason: str) -> None:
    server = Server()
    with raises(InvalidArgumentError, match=reason) as info:
        operator(make_hook, server, **kwargs).execute({})
    assert info.value.argument == argument
    assert server.bodies == []


def test_an_api_error_fails_the_task_with_openai_message(make_hook) -> None:
    script = Script(error(400, "This model does not support specifying dimensions."))
    with raises(BadRequestError, match="does not support specifying dimensions"):
        operator(make_hook, script, input="a", dimensions=3).execute({})


def test_an_answer_missing_vectors_is_rejected(make_hook) -> None:
    payload = {"object": "list", "data": [], "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1}}
    with raises(APIResponseValidationError, match="one vector per input"):
        operator(make_hook, Script(httpx.Response(200, json=payload)), input=["a"]).execute({})


def test_batches_respect_both_caps() -> None:
    assert batches(["a"] * 5, max_inputs=2) == [(0, 2, 2), (2, 4, 2), (4, 5, 1)]
    assert batches(["abcdef"] * 5, max_tokens=4) == [(0, 2, 4), (2, 4, 4), (4, 5, 2)]
    assert batches([]) == []
    assert estimate_tokens("abcd") == 2 and estimate_tokens("日本") == 2


def test_token_limit_headers_hold_the_next_request_back(make_hook) -> None:
    limits = {
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "150ms",
    }
    server = Server(headers=limits)
    operator(make_hook, server, input=["x" * 600_000] * 2, max_concurrency=1).execute({})
    assert len(server.times) == 2 and server.times[1] - server.times[0] >= 0.15


def test_an_answer_with_a_vector_that_is_not_numbers_is_rejected(make_hook) -> None:
    payload = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": ["a"]}], "model": "m"}
    with raises(APIResponseValidationError, match="item 0: 'embedding' must be a non-empty list of numbers"):
        operator(make_hook, Script(httpx.Response(200, json=payload)), input=["a"]).execute({})


def test_batches_match_a_text_by_text_split() -> None:
    """The bisection over running sums splits exactly as adding the texts one by one would, non-ASCII included."""
    texts = [("日本語" if index % 7 == 0 else "word ") * (index % 13 + 1) for index in range(500)]
    for max_inputs, max_tokens in ((2048, 300_000), (10, 300_000), (2048, 40), (6, 57)):
        expected, start, tokens = [], 0, 0
        for position, text in enumerate(texts):
            cost = estimate_tokens(text)
            if position > start and (position - start >= max_inputs or tokens + cost > max_tokens):
                expected.append((start, position, tokens))
                start, tokens = position, 0
            tokens += cost
        expected.append((start, len(texts), tokens))
        assert batches(texts, max_inputs, max_tokens) == expected


def test_a_text_above_the_token_cap_is_named() -> None:
    with pytest.raises(ValueError, match="text 2 is about 4 tokens, more than the 3 of a request"):
        batches(["a", "b", "日本語x"], max_tokens=3)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"object": "embedding", "index": "0", "embedding": [1.0]}, "item 1 has no integer 'index'"),
        ([0, [1.0]], "item 1 has no integer 'index'"),
        ({"object": "embedding", "index": 1, "embedding": []}, "item 1: 'embedding' must be a non-empty list"),
        ({"object": "embedding", "index": 1, "embedding": [1.0, None]}, "item 1: 'embedding' must be a non-empty"),
        ({"object": "embedding", "index": 1, "embedding": {"0": 1.0}}, "item 1: 'embedding' must be a non-empty"),
    ],
    ids=["text-index", "not-an-object", "empty-vector", "null-last", "object-vector"],
)
def test_the_first_bad_item_of_an_answer_is_named(make_hook, item: Any, reason: str) -> None:
    good = {"object": "embedding", "index": 0, "embedding": [1.0, 2.0]}
    payload = {"object": "list", "data": [good, item], "model": "m"}
    with raises(APIResponseValidationError, match=reason):
        operator(make_hook, Script(httpx.Response(200, json=payload)), input=["a", "b"]).execute({})


def test_a_vector_of_another_length_than_the_others_is_named(make_hook) -> None:
    vectors = [[1.0, 2.0], [1.0, 2.0, 3.0], [1.0, 2.0]]
    data = [{"object": "embedding", "index": index, "embedding": vector} for index, vector in enumerate(vectors)]
    payload = {"object": "list", "data": data, "model": "m"}
    task = operator(make_hook, Script(httpx.Response(200, json=payload)), input=["a", "b", "c"], dimensions=None)
    task.model = "an-unknown-model"
    with raises(APIResponseValidationError, match="the vector of input 1 has 3 dimensions; the others have 2"):
        task.execute({})


@pytest.fixture
def collector_on() -> Iterator[None]:
    """The test starts with the garbage collector enabled and leaves it enabled, whatever it did."""
    gc.enable()
    yield
    gc.enable()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_paused_while_an_xcom_result_comes_in_and_enabled_after(make_hook) -> None:
    server = Server(overlap=2, expected=3)
    result = operator(make_hook, server, input=[f"text {i}" for i in range(5000)]).execute({})
    assert server.collector == [False, False, False]
    assert gc.isenabled() and len(result["data"]) == 5000


@pytest.mark.usefixtures("collector_on")
def test_the_collector_runs_while_vectors_go_to_a_file(make_hook, tmp_path: Path) -> None:
    server = Server()
    operator(make_hook, server, input=["a", "b"], output_path=str(tmp_path / "vectors.jsonl")).execute({})
    assert server.collector == [True] and gc.isenabled()


@pytest.mark.usefixtures("collector_on")
@pytest.mark.parametrize(
    ("reply", "expected", "reason"),
    [
        (error(400, "bad dimensions"), BadRequestError, "bad dimensions"),
        (httpx.Response(200, json={"object": "list", "data": [], "model": "m"}), APIResponseValidationError, "one"),
    ],
    ids=["api-error", "merge-error"],
)
def test_the_collector_is_enabled_again_when_the_answers_fail(
    make_hook, reply: httpx.Response, expected: type[Exception], reason: str
) -> None:
    with raises(expected, match=reason):
        operator(make_hook, Script(reply), input=["a"]).execute({})
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_a_collector_paused_before_the_task_stays_paused(make_hook) -> None:
    gc.disable()
    server = Server()
    operator(make_hook, server, input=["a"]).execute({})
    assert server.collector == [False] and not gc.isenabled()

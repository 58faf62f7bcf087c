"""The XCom and event size measure: the bytes Airflow stores, through the C encoder where it gives the same bytes."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from airflow.sdk.serde import serialize

from airflow_provider_openai_fusion._bounds import bounded_xcom, json_size_bound, serialized_size
from airflow_provider_openai_fusion.exceptions import OutputTooLargeError


@pytest.mark.parametrize(
    "value",
    [
        {"object": "list", "data": [{"index": 0, "embedding": [0.125, -1e-9, 3.0]}], "model": "m"},
        ["text", 1, 2.5, None, True, {"nested": {"é": "ü"}}],
        {"when": datetime.datetime(2026, 12, 7, tzinfo=datetime.timezone.utc)},
        {"set": {1, 2}},
    ],
    ids=["answer", "scalars", "datetime", "set"],
)
def test_the_size_is_what_airflow_stores(value: Any) -> None:
    assert serialized_size(value) == len(json.dumps(serialize(value)).encode())


NESTED = {
    "object": "list",
    "data": [
        {"object": "embedding", "index": index, "embedding": [0.1 * index, -1e-300, 5e-324]} for index in range(50)
    ],
    "mixed": [1, "two", 3.0, None, True, ['é\n"', {"k": -(10**30)}], (4, 5), {}],
    "ragged": [{"a": 1}, {"b": 2, "c": [float("nan"), float("-inf")]}, {"a": "x"}],
    "reordered": [{"a": 1, "b": "x"}, {"b": "yy", "a": 22}],
    "other keys": [{"a": 1.5}, {"b": "long text " * 9}],
    "vectors and a text": [[0.5, 0.25], [0.125, "a text far longer than any float " * 4]],
}


class Ratio(float):
    """A float subclass: not an exact float."""


@pytest.mark.parametrize(
    "value",
    [NESTED, "text \x00 \U0001f600", 12345, -1.7976931348623157e308, [], {}, [[[]]], True, None],
    ids=["nested", "text", "int", "float", "empty-list", "empty-dict", "lists", "bool", "none"],
)
def test_the_bound_is_never_below_the_size(value: Any) -> None:
    bound = json_size_bound(value, 1 << 30)
    assert bound is not None and bound >= len(json.dumps(value))


def test_texts_and_keys_are_counted_exactly_and_integers_as_wide_as_the_widest() -> None:
    texts = {"clé": 'a"b', "日本": "\n"}
    assert json_size_bound(texts, 1 << 30) == len(json.dumps(texts)) + 2  # a separator after the last item
    assert json_size_bound([7, 42, -3], 1 << 30) == len("[7, 42, -3]") + 2 + 1  # "7" counted as wide as "-3"


@pytest.mark.parametrize(
    "value",
    [
        {"when": datetime.datetime(2026, 12, 7)},
        {1: "int key"},
        {"big": 10**5000},
        {"set": {1}},
        [[[[[]]]]] * 1,
        [[0.5, Ratio(0.25)]],
    ],
    ids=["datetime", "int-key", "huge-int", "set", "deep", "float-subclass-in-a-vector"],
)
def test_what_the_bound_cannot_take_is_measured_exactly(value: Any) -> None:
    assert json_size_bound(value, 1 << 30, max_levels=4) is None


def test_the_walk_stops_once_the_bound_passes_the_limit() -> None:
    bound = json_size_bound(["x" * 100, ["y" * 10**6]], 50)
    assert bound is not None and 50 < bound < 1000


def test_a_value_within_its_bound_is_returned_and_one_past_it_refused_with_its_exact_size() -> None:
    vectors = {"data": [[0.5] * 100] * 10}
    assert bounded_xcom(vectors, "task", bound=len(json.dumps(vectors)) * 2) is vectors
    exact = len(json.dumps(vectors))
    assert bounded_xcom(vectors, "task", bound=exact) is vectors  # the bound is above it: measured exactly
    with pytest.raises(OutputTooLargeError, match=f"would return {exact:,} bytes"):
        bounded_xcom(vectors, "task", bound=exact - 1)

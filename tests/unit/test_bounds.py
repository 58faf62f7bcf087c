"""The XCom and event size measure: the bytes Airflow stores, through the C encoder where it gives the same bytes."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from airflow.sdk.serde import serialize

from airflow_provider_openai_fusion._bounds import serialized_size


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

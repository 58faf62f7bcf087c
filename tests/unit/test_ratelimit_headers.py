"""
Edge values of the ``x-ratelimit-*`` headers, read by the rate-limit gate: cases added for mutants of
``parse_reset`` and ``_count`` that survived the gate's own tests (scripts/mutation.sh ratelimit).
"""

from __future__ import annotations

import pytest

from airflow_provider_openai_fusion._http.ratelimit import _count, parse_reset


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("0.25", 0.25),
        ("-3", 0.0),
        ("1s", 1.0),
        ("20ms", 0.02),
        ("6m0s", 360.0),
        ("1h2m3.5s", 3723.5),
        (" 2s ", 2.0),
        ("1s2x", None),
        ("2x", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_reset_headers_are_read_as_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_reset(value) == (pytest.approx(seconds) if seconds is not None else None)


@pytest.mark.parametrize(
    ("value", "count"),
    [("0", 0.0), ("2", 2.0), ("1.5", 1.5), ("-1", None), ("inf", None), ("nan", None), ("many", None), (None, None)],
)
def test_limit_and_remaining_headers_must_be_finite_and_not_negative(value: str | None, count: float | None) -> None:
    assert _count(value) == count

"""
The organization Costs and Usage APIs (admin key): ``GET /organization/costs`` and
``GET /organization/usage/{source}``, paged by ``next_page``; and the flattening of their time buckets into rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.api._base import ResponseModel

USAGE_SOURCES = (
    "completions",
    "embeddings",
    "moderations",
    "images",
    "audio_speeches",
    "audio_transcriptions",
    "vector_stores",
)
_COMMON = ("project_id", "user_id", "api_key_id", "model")
GROUP_BY: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "costs": ("project_id", "line_item", "api_key_id"),
        "completions": (*_COMMON, "batch", "service_tier"),
        "embeddings": _COMMON,
        "moderations": _COMMON,
        "images": (*_COMMON, "size", "source"),
        "audio_speeches": _COMMON,
        "audio_transcriptions": _COMMON,
        "vector_stores": ("project_id",),
    }
)
"""The ``group_by`` fields each endpoint takes (from the official spec)."""
MAX_BUCKETS = MappingProxyType({"costs": 180, "usage": 31})
"""The most daily buckets one page may hold: 180 for costs, 31 for usage."""


class UsagePage(ResponseModel):
    """One page of ``GET /organization/costs`` or ``/organization/usage/*``: time buckets and the next cursor."""

    data: list[dict[str, Any]]
    has_more: bool = False
    next_page: str | None = None


def usage_page(
    source: str, start_time: int, end_time: int, group_by: Sequence[str], page: str | None = None
) -> RequestSpec:
    """
    One page of daily buckets of ``source``: ``costs`` (GET /organization/costs) or a usage source
    (GET /organization/usage/{source}).

    :param source: ``costs`` or one of :data:`USAGE_SOURCES`.
    :param start_time: the first second (Unix time), inclusive.
    :param end_time: the last second (Unix time), exclusive.
    :param group_by: the fields to group by, those this source takes.
    :param page: the ``next_page`` cursor of the previous page.
    """
    params: dict[str, Any] = {
        "start_time": start_time,
        "end_time": end_time,
        "bucket_width": "1d",
        "limit": MAX_BUCKETS["costs" if source == "costs" else "usage"],
    }
    if group_by:
        params["group_by"] = list(group_by)
    if page:
        params["page"] = page
    path = "organization/costs" if source == "costs" else f"organization/usage/{source}"
    return RequestSpec("GET", path, params=params, response=UsagePage)


def _iso(seconds: Any) -> str | None:
    if not isinstance(seconds, int | float):
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def bucket_rows(source: str, page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """
    The rows of one page: one per result of each bucket, with the bucket's start and end (ISO 8601, UTC), the
    source, and the result's fields (a cost's ``amount`` as ``amount_value`` and ``amount_currency``).

    :param source: ``costs`` or a usage source.
    :param page: the page.
    """
    rows = []
    for bucket in page.get("data") or []:
        for result in bucket.get("results") or []:
            row: dict[str, Any] = {
                "source": source,
                "start_time": _iso(bucket.get("start_time")),
                "end_time": _iso(bucket.get("end_time")),
            }
            for key, value in result.items():
                if key == "object":
                    continue
                if key == "amount" and isinstance(value, Mapping):
                    row["amount_value"] = value.get("value")
                    row["amount_currency"] = value.get("currency")
                else:
                    row[key] = value
            rows.append(row)
    return rows

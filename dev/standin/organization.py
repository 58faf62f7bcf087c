"""
Stand-in routes: the organization Costs and Usage APIs (``/organization/costs``, ``/organization/usage/*``).

They answer only the admin key (:func:`admin_key`), as OpenAI's do. The data is made up but steady: every day of
the asked range has the same two projects, two models and their line items, with amounts that grow with the day, so
a test can compute the expected totals. Pages hold at most :data:`PAGE_BUCKETS` daily buckets whatever ``limit``
asks, so a report of a week takes several pages (``has_more``, ``next_page``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin.common import error, ok

DAY = 86_400
PAGE_BUCKETS = 3
PROJECTS = ("proj_alpha", "proj_beta")
GROUPS = {
    "costs": ("project_id", "line_item", "api_key_id"),
    "completions": ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier"),
    "embeddings": ("project_id", "user_id", "api_key_id", "model"),
    "moderations": ("project_id", "user_id", "api_key_id", "model"),
    "images": ("project_id", "user_id", "api_key_id", "model", "size", "source"),
    "audio_speeches": ("project_id", "user_id", "api_key_id", "model"),
    "audio_transcriptions": ("project_id", "user_id", "api_key_id", "model"),
    "vector_stores": ("project_id",),
}
MODELS = {
    "completions": ("gpt-5.6-luna", "gpt-6-luna"),
    "embeddings": ("text-embedding-3-small",),
    "moderations": ("omni-moderation-latest",),
    "images": ("gpt-image-2",),
    "audio_speeches": ("gpt-4o-mini-tts",),
    "audio_transcriptions": ("gpt-transcribe",),
    "vector_stores": (None,),
}
AMOUNTS = {
    "completions": {"input_tokens": 1000, "output_tokens": 200, "input_cached_tokens": 100, "num_model_requests": 4},
    "embeddings": {"input_tokens": 5000, "num_model_requests": 2},
    "moderations": {"input_tokens": 300, "num_model_requests": 3},
    "images": {"images": 2, "num_model_requests": 1},
    "audio_speeches": {"characters": 1200, "num_model_requests": 1},
    "audio_transcriptions": {"seconds": 90, "num_model_requests": 1},
    "vector_stores": {"usage_bytes": 4096},
}
COST_PER_LINE = 0.25
"""A cost line's amount on day ``d`` (counted from the range's start) is ``COST_PER_LINE * (d + 1)``."""


def admin_key(api_key: str) -> str:
    """The admin key the stand-in accepts on the organization routes: the API key with ``-admin`` appended."""
    return f"{api_key}-admin"


def _facts(source: str, day: int) -> list[dict[str, Any]]:
    """The finest-grained results of one day of ``source``: every field of every group set."""
    rows = []
    for project in PROJECTS:
        if source == "costs":
            for model in MODELS["completions"]:
                for kind in ("input", "output"):
                    amount = {"value": COST_PER_LINE * (day + 1), "currency": "usd"}
                    rows.append(
                        {
                            "project_id": project,
                            "line_item": f"{model}, {kind}",
                            "api_key_id": "key_1",
                            "amount": amount,
                        }
                    )
            continue
        for model in MODELS[source]:
            row = {"project_id": project, "user_id": "user_1", "api_key_id": "key_1", "model": model}
            row |= {"batch": False, "service_tier": "default", "size": "1024x1024", "source": "image.generation"}
            rows.append(row | {name: value * (day + 1) for name, value in AMOUNTS[source].items()})
    return rows


def _grouped(source: str, facts: list[dict[str, Any]], group_by: list[str]) -> list[dict[str, Any]]:
    """Sum the day's facts by the fields asked for; the fields not grouped by are null, as OpenAI answers."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for fact in facts:
        key = tuple(fact.get(name) for name in group_by)
        result = groups.setdefault(
            key,
            {"object": f"organization.{'costs' if source == 'costs' else f'usage.{source}'}.result"}
            | dict.fromkeys(GROUPS[source])
            | dict(zip(group_by, key, strict=True)),
        )
        if source == "costs":
            amount = result.setdefault("amount", {"value": 0.0, "currency": "usd"})
            amount["value"] = round(amount["value"] + fact["amount"]["value"], 6)
            result |= {"quantity": None, "quantity_unit": None}
        else:
            for name in AMOUNTS[source]:
                result[name] = result.get(name, 0) + fact[name]
    return list(groups.values())


def _int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    return int(value) if value is not None and value.lstrip("-").isdigit() else None


async def _page(request: Request, source: str) -> Response:
    state = request.app.state.standin
    if request.headers.get("authorization", "") != f"Bearer {admin_key(state.api_key)}":
        return error(
            401,
            "You have insufficient permissions for this operation. Missing scopes: api.usage.read. "
            "The organization Usage and Costs APIs need an admin key.",
            type_="invalid_request_error",
        )
    start = _int(request, "start_time")
    if start is None:
        return error(
            400, "Missing required parameter: 'start_time'.", type_="invalid_request_error", param="start_time"
        )
    end = _int(request, "end_time") or start + 7 * DAY
    group_by = request.query_params.getlist("group_by")
    if bad := [name for name in group_by if name not in GROUPS[source]]:
        return error(400, f"Invalid group_by field: '{bad[0]}'.", type_="invalid_request_error", param="group_by")
    limit = _int(request, "limit") or 7
    first = _int(request, "page") or 0
    days = range(first, min(first + min(limit, PAGE_BUCKETS), -(-(end - start) // DAY)))
    buckets = [
        {
            "object": "bucket",
            "start_time": start + day * DAY,
            "end_time": min(start + (day + 1) * DAY, end),
            "results": _grouped(source, _facts(source, day), group_by),
        }
        for day in days
    ]
    following = days.stop if days and start + days.stop * DAY < end else None
    next_page = None if following is None else str(following)
    return ok({"object": "page", "data": buckets, "has_more": next_page is not None, "next_page": next_page})


async def costs(request: Request) -> Response:
    """GET /organization/costs."""
    return await _page(request, "costs")


async def usage(request: Request) -> Response:
    """GET /organization/usage/{source}."""
    source = request.path_params["source"]
    if source not in MODELS:
        return error(404, f"Invalid URL (GET /v1/organization/usage/{source})", type_="invalid_request_error")
    return await _page(request, source)


routes = [
    Route("/organization/costs", costs, methods=["GET"]),
    Route("/organization/usage/{source}", usage, methods=["GET"]),
]

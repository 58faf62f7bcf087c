"""Stand-in routes: /models."""

from __future__ import annotations

from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_openai_fusion.model_lifecycle import RETIREMENTS, today_utc
from dev.standin.common import not_found, ok, state_of

BASE_MODELS = (
    "gpt-5.6-luna",
    "gpt-4o-mini",
    "gpt-4.1-mini",
    "gpt-5.6-terra",
    "o4-mini",
    "gpt-3.5-turbo-instruct",
    "gpt-oss-20b",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "omni-moderation-latest",
    "gpt-image-2",
    "gpt-image-1",
    "gpt-image-1-mini",
    "dall-e-2",
    "whisper-1",
    "gpt-4o-mini-transcribe",
    "gpt-transcribe",
)
RETIRING_MODEL = "standin-retiring-model"
"""A model whose ``shutdown_date`` is always 14 days after the server's today: the near case, whatever the date."""
RETIRING_IN_DAYS = 14


def shutdown_date(model_id: str, today: date) -> str | None:
    """
    The ``shutdown_date`` the stand-in gives a model: OpenAI's (from the package's retirement table), the moving
    date of :data:`RETIRING_MODEL`, or ``None`` (not announced).

    :param model_id: the model id.
    :param today: the server's today.
    """
    if model_id == RETIRING_MODEL:
        return (today + timedelta(days=RETIRING_IN_DAYS)).isoformat()
    row = RETIREMENTS.get(model_id)
    return row.shutdown.isoformat() if row else None


def _model(model_id: str, today: date, owned_by: str = "system", created: int = 1_700_000_000) -> dict:
    return {
        "id": model_id,
        "object": "model",
        "created": created,
        "owned_by": owned_by,
        "shutdown_date": shutdown_date(model_id, today),
    }


def _all(request: Request) -> dict[str, dict]:
    today = today_utc()
    state = state_of(request)
    models = {model_id: _model(model_id, today) for model_id in (*BASE_MODELS, RETIRING_MODEL, *state.shutdown_dates)}
    for model_id, day in state.shutdown_dates.items():
        models[model_id]["shutdown_date"] = day
    models.update(state.fine_tuned_models)
    return models


async def list_models(request: Request) -> Response:
    state_of(request).models_reads += 1
    return ok({"object": "list", "data": list(_all(request).values())})


async def retrieve_model(request: Request) -> Response:
    model_id = request.path_params["model"]
    model = _all(request).get(model_id)
    return ok(model) if model else not_found("model", model_id, "model")


async def delete_model(request: Request) -> Response:
    model_id = request.path_params["model"]
    if state_of(request).fine_tuned_models.pop(model_id, None) is None:
        return not_found("model", model_id, "model")
    return ok({"id": model_id, "object": "model", "deleted": True})


routes = [
    Route("/models", list_models, methods=["GET"]),
    Route("/models/{model:path}", retrieve_model, methods=["GET"]),
    Route("/models/{model:path}", delete_model, methods=["DELETE"]),
]

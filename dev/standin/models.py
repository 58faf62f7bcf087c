"""Stand-in routes: /models."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin.common import not_found, ok, state_of

BASE_MODELS = (
    "gpt-4o-mini",
    "gpt-4.1-mini",
    "o4-mini",
    "gpt-3.5-turbo-instruct",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "omni-moderation-latest",
    "gpt-image-1",
    "gpt-image-1-mini",
    "dall-e-2",
    "whisper-1",
    "gpt-4o-mini-transcribe",
)


def _model(model_id: str, owned_by: str = "system", created: int = 1_700_000_000) -> dict:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def _all(request: Request) -> dict[str, dict]:
    models = {model_id: _model(model_id) for model_id in BASE_MODELS}
    models.update(state_of(request).fine_tuned_models)
    return models


async def list_models(request: Request) -> Response:
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

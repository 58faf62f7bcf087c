"""The Models API: list, retrieve, and delete a fine-tuned model."""

from __future__ import annotations

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.api._base import Deletion, ResponseModel, segment


class Model(ResponseModel):
    """A model object; ``shutdown_date`` (Unix time) is set when OpenAI has scheduled the model's shutdown."""

    id: str
    shutdown_date: int | None = None


def list_models() -> RequestSpec:
    """GET /models."""
    return RequestSpec("GET", "models", response=Model, listing=True)


def retrieve_model(model: str) -> RequestSpec:
    """
    GET /models/{model}.

    :param model: the model id.
    """
    return RequestSpec("GET", f"models/{segment(model)}", response=Model)


def delete_model(model: str) -> RequestSpec:
    """
    DELETE /models/{model}: delete a fine-tuned model.

    :param model: the fine-tuned model id.
    """
    return RequestSpec("DELETE", f"models/{segment(model)}", response=Deletion)

"""The Models API: list, retrieve, and delete a fine-tuned model."""

from __future__ import annotations

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.api._base import Deletion, ResponseModel, segment


class Model(ResponseModel):
    """
    A model object. ``shutdown_date`` is the day OpenAI shuts the model down, ``YYYY-MM-DD`` as the spec gives it
    (``format: date``), or null when none is announced; a number (Unix seconds) from a compatible server is kept too.
    """

    id: str
    shutdown_date: str | int | None = None


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

"""Fusion's "Get models" module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator, choice, required

ACTIONS = ("list", "retrieve")


class OpenAIGetModelsOperator(OpenAIFusionBaseOperator):
    """
    List the models available to the connection's key, or retrieve one.

    :param action: ``list`` (every model, following pages) or ``retrieve`` (one model). (templated)
    :param model: the model id, for ``retrieve``. (templated)
    :param limit: with ``list``, return at most this many models.
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``list``: a list of model objects; ``retrieve``: the model object.
    """

    template_fields: Sequence[str] = ("conn_id", "action", "model")

    def __init__(
        self, *, action: str = "list", model: str | None = None, limit: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.model = model
        self.limit = limit

    def execute(self, context: Context) -> list[dict[str, Any]] | dict[str, Any]:
        action = choice("action", self.action, ACTIONS)
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise InvalidArgumentError("limit", f"must be a positive integer, got {self.limit!r}")
        if action == "retrieve":
            model = self.hook.retrieve_model(required("model", self.model, "action='retrieve'"))
            self.log.info("Model %s, owned by %s", model.get("id"), model.get("owned_by"))
            return model
        models = self.hook.list_models()
        models = models[: self.limit] if self.limit is not None else models
        self.log.info("%d models: %s", len(models), ", ".join(str(m.get("id")) for m in models[:20]))
        return models

"""Fusion's "Get models" module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from airflow.sdk import Context

from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

ACTIONS = ("list", "retrieve")


class OpenAIGetModelsOperator(OpenAIFusionBaseOperator):
    """
    List the models available to the connection's key, or retrieve one.

    :param action: ``list`` (every model, following pages) or ``retrieve`` (one model). (templated)
    :param model: the model id, for ``retrieve``. (templated)
    :param limit: with ``list``, return at most this many models.
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``list``: a list of model objects; ``retrieve``: the model object. Each keeps ``shutdown_date``
        (``YYYY-MM-DD`` or null); a model past it, or within 30 days of it, gets a warning in the task log.
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
        from airflow_provider_openai_fusion.api._base import choice, positive_int, required
        from airflow_provider_openai_fusion.api.models import list_models, retrieve_model

        action = choice("action", self.action, ACTIONS)
        limit = positive_int("limit", self.limit)
        if action == "retrieve":
            model = self.hook.request(retrieve_model(required("model", self.model, "action='retrieve'")))
            shutdown = model.get("shutdown_date") or "none announced"
            self.log.info("Model %s, owned by %s, shutdown date: %s", model.get("id"), model.get("owned_by"), shutdown)
            self._warn_of_shutdowns([model])
            return cast("list[dict[str, Any]] | dict[str, Any]", model)
        models = self.hook.paginate(list_models(), limit)
        self.log.info("%d models: %s", len(models), ", ".join(str(m.get("id")) for m in models[:20]))
        self._warn_of_shutdowns(models)
        return models

    def _warn_of_shutdowns(self, models: list[dict[str, Any]]) -> None:
        from airflow_provider_openai_fusion.model_lifecycle import shutdown_warning

        for model in models:
            warning = shutdown_warning(model)
            if warning:
                self.log.warning("%s", warning)

"""
Results only: join the results of batches that already ended, from their ids alone (e.g. in a DAG scheduled on the
``batch.completed`` webhook, see :func:`~airflow_provider_openai_fusion.webhooks.assets.openai_webhook_asset`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

ON_EXPIRED = ("fail", "partial")


class OpenAIBatchResultsOperator(OpenAIFusionBaseOperator):
    """
    Write the results of finished batches to one JSON-lines file, a line per request **in input order**, exactly as
    :class:`~airflow_provider_openai_fusion.operators.batches.OpenAIBatchOperator` writes them when it waits; the
    input order comes from each batch's own ``input_file_id``, so the batch id is all it needs. Memory stays bounded
    by the number of requests (the result files are streamed to disk and joined by offset).

    It does not wait: a batch that has not ended fails the task (schedule the DAG on the ``batch.completed`` webhook,
    or wait with ``OpenAIBatchSensor`` first). A ``failed`` or ``cancelled`` batch fails it with the batch's errors.

    :param batch_id: a batch id, or a list of them joined in that order (e.g. the ``batch_ids`` of a submitting
        task's XCom, or a webhook event's ``object_id``); JSON text of a list is accepted. (templated)
    :param output_path: the JSON-lines file of results, a local path or an ``ObjectStoragePath`` URI. (templated)
    :param on_expired: ``fail`` (default), or ``partial``: keep what completed and mark the rest expired.
    :param require_metadata: only these batches: metadata pairs each batch must carry (e.g. ``{"airflow_dag_id":
        "nightly_submit"}``, which the batch operator sets); a batch without them skips the task, so a webhook for
        someone else's batch costs nothing. (templated)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: ``{"batch_ids", "path", "counts": {"total", "succeeded", "failed", "expired"}, "usage"}``.
    """

    template_fields: Sequence[str] = ("conn_id", "batch_id", "output_path", "require_metadata")
    template_fields_renderers = {"require_metadata": "json"}

    def __init__(
        self,
        *,
        batch_id: str | list[str],
        output_path: Any,
        on_expired: str = "fail",
        require_metadata: dict[str, str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_id = batch_id
        self.output_path = output_path
        self.on_expired = on_expired
        self.require_metadata = require_metadata

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_provider_openai_fusion.api._base import choice, json_object
        from airflow_provider_openai_fusion.api.batches import BATCHES, batch_failure, retrieve_batch
        from airflow_provider_openai_fusion.operators._io import path_text

        batch_ids = batch_id_list(self.batch_id)
        choice("on_expired", self.on_expired, ON_EXPIRED)
        path_text("output_path", self.output_path)
        required = json_object(self.require_metadata, "require_metadata") or {}
        batches = [self.hook.request(retrieve_batch(batch_id)) for batch_id in batch_ids]
        for batch in batches:
            metadata = batch.get("metadata") or {}
            if any(metadata.get(key) != str(value) for key, value in required.items()):
                raise AirflowSkipException(f"Batch {batch['id']} does not carry the metadata {required}: not ours")
        for batch in batches:
            if batch.get("status") not in BATCHES.terminal:
                raise InvalidArgumentError(
                    "batch_id",
                    f"batch {batch['id']} is {batch.get('status')!r}, not finished; schedule on the batch.completed "
                    "webhook or wait with OpenAIBatchSensor first",
                )
            if batch["status"] != "completed" and not (batch["status"] == "expired" and self.on_expired == "partial"):
                raise batch_failure(batch)
            if not batch.get("input_file_id"):
                raise InvalidArgumentError("batch_id", f"batch {batch['id']} names no input_file_id")
        return self._write(batches)

    def _write(self, batches: list[dict[str, Any]]) -> dict[str, Any]:
        """Join the batches' results, each in the order of its own input file."""
        from airflow_provider_openai_fusion.operators._batch_results import input_custom_ids
        from airflow_provider_openai_fusion.operators._batch_writer import write_results

        return write_results(
            self, batches, lambda _, batch, folder: input_custom_ids(self.hook, batch["input_file_id"], folder)
        )


def batch_id_list(value: Any) -> list[str]:
    """
    The batch ids of the ``batch_id`` argument: one id, a list, JSON text of a list, or a batch operator's XCom.

    :param value: the rendered argument.
    """
    if isinstance(value, str) and value.strip().startswith(("[", "{")):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidArgumentError("batch_id", "is neither a batch id nor JSON of a list of them") from None
    if isinstance(value, Mapping) and "batch_ids" in value:
        value = value["batch_ids"]
    ids = [value] if isinstance(value, str) else value
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i.strip() for i in ids):
        raise InvalidArgumentError("batch_id", f"give a batch id or a non-empty list of them, got {value!r}")
    if len(set(ids)) != len(ids):
        raise InvalidArgumentError("batch_id", "names a batch twice")
    return [i.strip() for i in ids]

"""The Batch API operator: many requests at half the price, results joined in input order, never submitted twice."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.api.batch_input import Part

ON_EXPIRED = ("fail", "partial")
# Metadata that ties a batch to the task instance (and the part of its input) that submitted it.
TI_METADATA_KEYS = ("airflow_dag_id", "airflow_task_id", "airflow_run_id", "airflow_map_index")
PART_KEY = "airflow_batch_part"
DIGEST_KEY = "airflow_batch_digest"
OWN_KEYS = (*TI_METADATA_KEYS, PART_KEY, DIGEST_KEY)
_REUSABLE = ("validating", "in_progress", "finalizing", "completed")
MAX_LIST_PAGES = 100
CLOCK_SKEW_SECONDS = 300


class OpenAIBatchOperator(OpenAIFusionBaseOperator):
    """
    Run many requests through the Batch API (about half the price, done within 24 hours) and write the results
    to one JSON-lines file, a line per request in input order.

    Every request body is validated with the endpoint's own request schema before anything is uploaded (an error
    names the request and the field); custom ids are assigned when missing (``request-<index>``) and duplicates
    refused. Inputs past the API's limits (50,000 requests, 200 MB, 50,000 embedding inputs a batch) are split into
    several batches. Each batch carries metadata naming the task instance and its part of the input, and its id
    (with its input file's) goes to the task instance's ``task_state_store`` (Airflow 3.3+) as soon as it exists,
    so a retry of the task re-attaches to the batches an earlier try submitted instead of paying twice, and to no
    other batch. On Airflow 3.2 a retry finds them by metadata, requiring the same part digest, endpoint and
    window and a ``created_at`` at or after the DAG run's start.

    Output lines have OpenAI's own result-line shape, so a parser written for OpenAI's output file reads them:
    ``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``, error answers included
    (``status_code`` 4xx/5xx, the error in ``body``). A request without a usable result line gets ``{"id": null,
    "custom_id", "response": null, "error": {"code", "message"}}``: ``batch_expired`` (an expired batch with
    ``on_expired="partial"``, counted as expired), ``missing`` (a completed batch without its line),
    ``result_line_too_large`` or ``result_line_invalid`` (a line past the cap, or not one JSON object with this
    ``custom_id``), all counted as failed. A failed batch fails the task with its validation errors; a cancelled
    one fails it.

    :param endpoint: ``/v1/responses``, ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/completions`` or
        ``/v1/moderations``. (templated)
    :param requests: a list of request bodies, or of ``{"custom_id", "body"}`` pairs (JSON text accepted, e.g. an
        upstream XCom rendered by a template); exactly one of ``requests`` and ``input_path``. (templated)
    :param input_path: a JSONL file in OpenAI's batch input format (``{"custom_id", "method": "POST", "url",
        "body"}`` per line), a local path or an ``ObjectStoragePath`` URI. (templated)
    :param output_path: the JSON-lines file of results, a local path or an ``ObjectStoragePath`` URI; required
        when waiting. (templated)
    :param completion_window: ``24h``.
    :param metadata: up to 10 key-value pairs added to each batch's metadata. (templated)
    :param wait_for_completion: wait for the batches and write the results; else return their ids at once.
    :param deferrable: wait in the triggerer instead of a worker slot (default: ``[operators]
        default_deferrable``).
    :param poll_interval: seconds between checks while waiting (default 60).
    :param timeout: seconds to wait for the batches before cancelling them (with ``cancel_on_kill``) and failing
        with their last status (default: the task's ``execution_timeout``, else the completion window plus an
        hour: 25 hours).
    :param on_expired: ``fail`` (default), or ``partial``: keep what completed and mark the rest expired.
    :param cancel_on_kill: cancel the batches when the task is killed while waiting, or at the deadline.
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: waiting: ``{"batch_ids", "path", "counts": {"total", "succeeded", "failed", "expired"}, "usage"}``;
        not waiting: ``{"batch_ids"}``.
    """

    template_fields: Sequence[str] = ("conn_id", "endpoint", "requests", "input_path", "output_path", "metadata")
    template_fields_renderers = {"requests": "json", "metadata": "json"}
    max_requests_per_batch = 50_000
    max_bytes_per_batch = 200 * 1000 * 1000

    def __init__(
        self,
        *,
        endpoint: str,
        requests: Any = None,
        input_path: Any = None,
        output_path: Any = None,
        completion_window: str = "24h",
        metadata: dict[str, str] | str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 60.0,
        timeout: float | None = None,
        on_expired: str = "fail",
        cancel_on_kill: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.requests = requests
        self.input_path = input_path
        self.output_path = output_path
        self.completion_window = completion_window
        self.metadata = metadata
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.on_expired = on_expired
        self.cancel_on_kill = cancel_on_kill
        self._batch_ids: list[str] = []  # this try's batches, for on_kill; reset when a try submits

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion import _budget
        from airflow_provider_openai_fusion._waiting import Watch, cancelled_at_deadline, drive, wait_deadline
        from airflow_provider_openai_fusion.api.batches import BATCHES
        from airflow_provider_openai_fusion.wait_defaults import batch_timeout

        user_metadata = self._check_arguments()
        with tempfile.TemporaryDirectory(prefix="openai-fusion-batch-") as folder:
            parts = self._prepare(Path(folder))
            self.check_budget(_budget.batch_files, [part.path for part in parts], self.endpoint)
            batches = self._submit(context, parts, user_metadata)
            if not self.wait_for_completion:
                return {"batch_ids": list(self._batch_ids)}
            deadline = wait_deadline(self.timeout, self.execution_timeout, batch_timeout(self.completion_window))
            if self.deferrable:
                looks = [drive(Watch(BATCHES, batch["id"], self.log).look(), self.hook.request) for batch in batches]
                if not all(look is not None and look.get("status") in BATCHES.terminal for look in looks):
                    self._defer(deadline)
                batches = looks
            else:
                watches = [Watch(BATCHES, batch["id"], self.log) for batch in batches]
                steps = [watch.until_done(self.poll_interval, deadline) for watch in watches]
                with cancelled_at_deadline(self.on_kill, self.log):
                    batches = [drive(step, self.hook.request) for step in steps]
            return self._results(batches, parts)

    def _check_arguments(self) -> dict[str, str]:
        from airflow_provider_openai_fusion.api._base import choice, json_object, positive_number, request_body
        from airflow_provider_openai_fusion.api.batches import ENDPOINTS, CreateBatchRequest

        choice("endpoint", self.endpoint, ENDPOINTS)
        if (self.requests is None) == (self.input_path is None):
            raise InvalidArgumentError("requests", "give exactly one of 'requests' and 'input_path'")
        if self.wait_for_completion and self.output_path is None:
            raise InvalidArgumentError("output_path", "is required with wait_for_completion=True")
        choice("on_expired", self.on_expired, ON_EXPIRED)
        self.poll_interval = positive_number("poll_interval", self.poll_interval)
        self.timeout = positive_number("timeout", self.timeout) if self.timeout is not None else None
        metadata = json_object(self.metadata, "metadata") or {}
        if clashes := sorted(set(metadata) & set(OWN_KEYS)):
            raise InvalidArgumentError("metadata", f"sets {clashes[0]!r}, which the operator sets itself")
        if bad := [key for key, value in metadata.items() if not isinstance(value, str)]:
            raise InvalidArgumentError("metadata", f"the value of {bad[0]!r} must be text")
        named = {
            "input_file_id": "file-to-upload",
            "endpoint": self.endpoint,
            "completion_window": self.completion_window,
            "metadata": {**metadata, **dict.fromkeys(OWN_KEYS, "")},
        }
        request_body(CreateBatchRequest, named)
        return metadata

    def _prepare(self, folder: Path) -> list[Part]:
        """Validate every request and write the batch input files (the same bytes every time for the same input)."""
        from airflow_provider_openai_fusion.api.batch_input import jsonl_items, request_items, write_parts
        from airflow_provider_openai_fusion.operators._io import local_input

        if self.requests is not None:
            items = self._checked(request_items(self.requests, "requests"))
            return write_parts(
                self.endpoint,
                items,
                folder,
                argument="requests",
                max_requests=self.max_requests_per_batch,
                max_bytes=self.max_bytes_per_batch,
            )
        with local_input("input_path", self.input_path) as path:
            items = self._checked(jsonl_items(path, self.endpoint, "input_path"))
            return write_parts(
                self.endpoint,
                items,
                folder,
                argument="input_path",
                from_file=True,
                max_requests=self.max_requests_per_batch,
                max_bytes=self.max_bytes_per_batch,
            )

    def _checked(self, items: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        """Pass the request items through, checking each model they name once against the retirement table."""
        seen: set[str] = set()
        for where, item in items:
            body = item.get("body", item) if isinstance(item, dict) else None
            model = body.get("model") if isinstance(body, dict) else None
            if isinstance(model, str) and model not in seen:
                seen.add(model)
                self.check_model(model)
            yield where, item

    def _submit(self, context: Context, parts: list[Part], user_metadata: dict[str, str]) -> list[dict[str, Any]]:
        """Upload and create a batch per part, re-attaching to the parts an earlier try already submitted."""
        from airflow_provider_openai_fusion.api._base import request_body
        from airflow_provider_openai_fusion.api.batches import CreateBatchRequest, create_batch
        from airflow_provider_openai_fusion.api.files import upload_file
        from airflow_provider_openai_fusion.operators._batch_record import BatchRecord, reusable_input
        from airflow_provider_openai_fusion.operators._ownership import state_store

        tags = {**user_metadata, **ti_metadata(context)}
        request = {"endpoint": self.endpoint, "completion_window": self.completion_window, "metadata": tags}
        mine = BatchRecord(context, request)
        if state_store(context) is not None:
            earlier = self._recorded_batches(mine, parts)
        else:
            earlier = self._earlier_batches(context, tags, len(parts))
        self._batch_ids = []
        batches = []
        for number, part in enumerate(parts, start=1):
            label = f"{number}/{len(parts)}"
            batch = earlier.get((label, part.digest))
            if batch is not None:
                self.log.info(
                    "Part %s: re-attaching to batch %s of an earlier try (%s)", label, batch["id"], batch["status"]
                )
            else:
                file_id = mine.earlier(label, part, "file_id")
                if file_id and reusable_input(self.hook, file_id, part):
                    self.log.info("Part %s: using input file %s uploaded by an earlier try", label, file_id)
                else:
                    file_id = str(self.hook.request(upload_file(part.path, "batch"))["id"])
                    mine.keep(label, part, file_id=file_id)
                named = {
                    "input_file_id": file_id,
                    "endpoint": self.endpoint,
                    "completion_window": self.completion_window,
                    "metadata": {**tags, PART_KEY: label, DIGEST_KEY: part.digest},
                }
                batch = self.hook.request(create_batch(request_body(CreateBatchRequest, named)))
                mine.keep(label, part, file_id=file_id, batch_id=str(batch["id"]))
                self.log.info(
                    "Part %s: %d requests (%d bytes) in file %s, batch %s is %s",
                    label,
                    len(part.custom_ids),
                    part.size,
                    file_id,
                    batch["id"],
                    batch.get("status"),
                )
            self._batch_ids.append(str(batch["id"]))
            batches.append(batch)
        return batches

    def _reusable(self) -> tuple[str, ...]:
        return (*_REUSABLE, "expired") if self.on_expired == "partial" else _REUSABLE

    def _recorded_batches(self, mine: Any, parts: list[Part]) -> dict[tuple[str, str], Any]:
        """The batches earlier tries of this task instance recorded for the same request and bytes, if reusable."""
        from airflow_provider_openai_fusion.api.batches import retrieve_batch
        from airflow_provider_openai_fusion.exceptions import NotFoundError

        found: dict[tuple[str, str], Any] = {}
        for number, part in enumerate(parts, start=1):
            label = f"{number}/{len(parts)}"
            if (batch_id := mine.earlier(label, part, "batch_id")) is None:
                continue
            try:
                batch = self.hook.request(retrieve_batch(batch_id))
            except NotFoundError:
                continue
            if batch.get("status") in self._reusable():
                found[(label, part.digest)] = batch
        return found

    def _earlier_batches(self, context: Context, tags: dict[str, str], parts: int) -> dict[tuple[str, str], Any]:
        """
        Without a task state store (Airflow 3.2), on a retry: the batches earlier tries of this task instance
        submitted, by (part, digest), made for the same endpoint and window at or after the DAG run's start (the
        list is read newest first, as it has no metadata filter, down to that start).
        """
        from airflow_provider_openai_fusion.api.batches import list_batches
        from airflow_provider_openai_fusion.operators._ownership import created_since, run_start

        since = run_start(context)
        if context["ti"].try_number <= 1 or since is None:
            return {}
        reusable = self._reusable()
        found: dict[tuple[str, str], Any] = {}
        after = None
        for _ in range(MAX_LIST_PAGES):
            page = self.hook.request(list_batches(after))
            data = [batch for batch in page.get("data") or [] if isinstance(batch, Mapping)]
            for batch in data:
                if isinstance(batch.get("created_at"), int) and batch["created_at"] < since - CLOCK_SKEW_SECONDS:
                    return found
                metadata = batch.get("metadata") or {}
                if (
                    batch.get("status") in reusable
                    and created_since(batch, since)
                    and (batch.get("endpoint"), batch.get("completion_window"))
                    == (self.endpoint, self.completion_window)
                    and all(metadata.get(key) == tags[key] for key in TI_METADATA_KEYS)
                    and str(metadata.get(PART_KEY, "")).endswith(f"/{parts}")
                ):
                    found.setdefault((str(metadata[PART_KEY]), str(metadata.get(DIGEST_KEY))), batch)
            if not page.get("has_more") or not data or data[-1].get("id") == after:
                break
            after = data[-1].get("id")
        return found

    def _defer(self, deadline: float) -> None:
        from airflow_provider_openai_fusion.triggers.batches import OpenAIBatchTrigger

        trigger = OpenAIBatchTrigger(
            job_id=self._batch_ids[0],
            batch_ids=self._batch_ids,
            conn_id=self.conn_id,
            poll_interval=self.poll_interval,
            deadline=deadline,
            cancel_on_kill=self.cancel_on_kill,
        )
        self.defer(trigger=trigger, method_name="execute_complete")

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """
        Resume after the trigger: join the finished batches' results into ``output_path``.

        :param context: the task's context.
        :param event: the trigger's event.
        """
        from airflow_provider_openai_fusion._waiting import finish
        from airflow_provider_openai_fusion.api.batches import BATCHES, retrieve_batch
        from airflow_provider_openai_fusion.triggers.batches import ALL_DONE

        if not (isinstance(event, Mapping) and event.get("status") == ALL_DONE and event.get("batch_ids")):
            finish(BATCHES, event)
            raise AirflowException(f"Unexpected event from the batch trigger: {event!r}")
        self._check_arguments()
        self._batch_ids = [str(batch_id) for batch_id in event["batch_ids"]]
        batches = [self.hook.request(retrieve_batch(batch_id)) for batch_id in self._batch_ids]  # events carry ids
        with tempfile.TemporaryDirectory(prefix="openai-fusion-batch-") as folder:
            return self._results(batches, self._prepare(Path(folder)))

    def _results(self, batches: list[dict[str, Any]], parts: list[Part]) -> dict[str, Any]:
        """Fail on a batch that ended without results; else join every batch's results in input order."""
        from airflow_provider_openai_fusion.api.batches import batch_failure
        from airflow_provider_openai_fusion.operators._batch_writer import write_results

        if len(batches) != len(parts):
            raise AirflowFailException(f"{len(batches)} batches for {len(parts)} parts: the input changed meanwhile")
        for batch, part in zip(batches, parts, strict=True):
            digest = (batch.get("metadata") or {}).get(DIGEST_KEY)
            if digest not in (None, part.digest):
                raise AirflowFailException(f"batch {batch['id']} was submitted for another input than the current one")
            if batch["status"] != "completed" and not (batch["status"] == "expired" and self.on_expired == "partial"):
                raise batch_failure(batch)
        return write_results(self, batches, lambda number, *_: parts[number].custom_ids)

    def on_kill(self) -> None:
        """Cancel the batches this task submitted that are still running, when ``cancel_on_kill`` is set."""
        from airflow_provider_openai_fusion.api.batches import BATCHES, cancel_batch, retrieve_batch

        if not (self.cancel_on_kill and self.wait_for_completion):
            return
        for batch_id in self._batch_ids:
            if self.hook.request(retrieve_batch(batch_id)).get("status") not in BATCHES.terminal:
                batch = self.hook.request(cancel_batch(batch_id))
                self.log.info("Cancelled batch %s (status %s)", batch_id, batch.get("status"))


def ti_metadata(context: Context) -> dict[str, str]:
    """
    The batch metadata naming the task instance: DAG, task, run and map index.

    :param context: the task's context.
    """
    ti = context["ti"]
    values = (ti.dag_id, ti.task_id, ti.run_id, ti.map_index)
    return {key: str(value) for key, value in zip(TI_METADATA_KEYS, values, strict=True)}

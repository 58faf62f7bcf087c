"""
OpenLineage for the provider's operators: what a task read and wrote, as datasets, and a run facet of ours.

Imported only by the operators' ``get_openlineage_facets_on_complete`` / ``_on_failure``, which Airflow calls only
when ``apache-airflow-providers-openlineage`` is installed: nothing here costs a DAG file or a task anything
otherwise.

Dataset names:

- OpenAI objects, under the namespace ``openai://<host>[:<port>]`` of the connection's base URL: ``files/<id>``,
  ``vector_stores/<id>``, ``batches/<id>``, ``fine_tuning/jobs/<id>``, ``models/<ft:model>``, ``responses/<id>``
  (background responses, and a ``previous_response_id`` read).
- Local files: namespace ``file``, the absolute path; object storage (``s3://bucket/key``, ...):
  namespace ``<scheme>://<bucket>``, name the key (OpenLineage's naming for file systems and object stores).

The run facet ``openai_fusion`` (:func:`run_facet_class`) holds the models, service tier, the number of calls,
the first :data:`MAX_IDS` request and response ids, the token usage summed, and the cost when the usage ledger
priced it; never prompt or answer text, never the key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_openai_fusion._http.calls import USAGE_FIELDS, CallRecord, waited_for

MAX_IDS = 20
FACET_NAME = "openai_fusion"
SCHEMA_URL = (
    "https://raw.githubusercontent.com/airflow-provider-openai-fusion/airflow-provider-openai-fusion/main/"
    "docs/openlineage/OpenAIFusionRunFacet.json"
)
PRODUCER = "https://github.com/airflow-provider-openai-fusion/airflow-provider-openai-fusion"


@cache
def run_facet_class() -> type:
    """
    The class of the ``openai_fusion`` run facet, made on first use (``openlineage-python`` is imported only when
    the OpenLineage provider asks for lineage; the module itself imports without it).
    """
    import attr
    from openlineage.client.facet_v2 import RunFacet

    @attr.define
    class OpenAIFusionRunFacet(RunFacet):  # type: ignore[misc]
        """
        What the task's OpenAI calls were, without their content (schema:
        ``docs/openlineage/OpenAIFusionRunFacet.json``).

        :param models: the models the answers named (else the requests), in first-use order.
        :param service_tier: the service tier the answers named, when one did.
        :param calls: how many calls the task made (including failed ones).
        :param request_ids: the first request ids (``x-request-id``).
        :param response_ids: the first response ids (``id`` of the answers).
        :param usage: token counts summed over the calls.
        :param cost_usd: the cost the usage ledger computed, when it priced every call.
        """

        models: list[str] = attr.field(factory=list)
        service_tier: str | None = attr.field(default=None)
        calls: int = attr.field(default=0)
        request_ids: list[str] = attr.field(factory=list)
        response_ids: list[str] = attr.field(factory=list)
        usage: dict[str, int] = attr.field(factory=dict)
        cost_usd: float | None = attr.field(default=None)

        @staticmethod
        def _get_schema() -> str:
            return SCHEMA_URL

    return OpenAIFusionRunFacet


def openai_namespace(base_url: str) -> str:
    """
    The namespace of the OpenAI objects of a connection, e.g. ``openai://api.openai.com``.

    :param base_url: the connection's base URL.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    default = 443 if parts.scheme == "https" else 80
    return f"openai://{host}" if parts.port in (None, default) else f"openai://{host}:{parts.port}"


def path_dataset(value: str) -> Any:
    """
    The dataset of a local path or an ``ObjectStoragePath`` URI.

    :param value: the path or URI as the task was given it.
    """
    from openlineage.client.event_v2 import Dataset

    parts = urlsplit(value)
    if len(parts.scheme) < 2:  # a local path (a one-letter scheme is a Windows drive)
        return Dataset(namespace="file", name=os.path.abspath(value))
    if parts.scheme == "file":
        return Dataset(namespace="file", name=parts.path)
    return Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/") or "/")


def _unique(datasets: Iterable[Any]) -> list[Any]:
    seen: dict[tuple[str, str], Any] = {}
    for dataset in datasets:
        seen.setdefault((dataset.namespace, dataset.name), dataset)
    return list(seen.values())


def run_facet(records: Sequence[CallRecord], calls: int, cost_usd: float | None) -> Any:
    """
    The run facet of a task's calls.

    :param records: the calls the hook kept.
    :param calls: how many calls there were (the hook keeps a bounded number of records).
    :param cost_usd: the cost from the usage ledger, if any.
    """
    models = list(
        dict.fromkeys(str(r.response_model or r.request_model) for r in records if r.response_model or r.request_model)
    )
    tiers = [r.service_tier for r in records if r.service_tier]
    usage: dict[str, int] = {}
    for record in records:
        for name in USAGE_FIELDS:
            if name in record.usage:
                usage[name] = usage.get(name, 0) + record.usage[name]
    return run_facet_class()(
        models=models,
        service_tier=tiers[-1] if tiers else None,
        calls=calls,
        request_ids=[r.request_id for r in records if r.request_id][:MAX_IDS],
        response_ids=[r.response_id for r in records if r.response_id][:MAX_IDS],
        usage=usage,
        cost_usd=cost_usd,
    )


def datasets(
    records: Sequence[CallRecord],
    base_url: str,
    paths_read: Sequence[str],
    paths_written: Sequence[str],
    resumed: bool = False,
) -> tuple[list[Any], list[Any]]:
    """
    The inputs and outputs of a task: the OpenAI objects its calls read and made, and the files it was given.

    :param records: the calls the hook kept.
    :param base_url: the connection's base URL.
    :param paths_read: local paths and URIs the task read.
    :param paths_written: local paths and URIs the task wrote.
    :param resumed: the calls are a resumed try's: the job it re-reads is what it made before deferring.
    """
    from openlineage.client.event_v2 import Dataset

    namespace = openai_namespace(base_url)
    made = {(kind, name) for record in records for kind, name in record.made}
    if resumed:
        made |= {job for job in map(waited_for, records) if job is not None}
    read = [(kind, name) for record in records for kind, name in record.read if (kind, name) not in made]
    inputs = [path_dataset(path) for path in paths_read]
    inputs += [Dataset(namespace=namespace, name=f"{kind}/{name}") for kind, name in read]
    outputs = [path_dataset(path) for path in paths_written]
    outputs += [Dataset(namespace=namespace, name=f"{kind}/{name}") for kind, name in sorted(made)]
    return _unique(inputs), _unique(outputs)


def operator_lineage(
    records: Sequence[CallRecord],
    calls: int,
    base_url: str,
    paths_read: Sequence[str],
    paths_written: Sequence[str],
    cost_usd: float | None = None,
    resumed: bool = False,
) -> Any:
    """
    The ``OperatorLineage`` of a task, for the OpenLineage provider.

    :param records: the calls the hook kept.
    :param calls: how many calls there were.
    :param base_url: the connection's base URL.
    :param paths_read: local paths and URIs the task read.
    :param paths_written: local paths and URIs the task wrote.
    :param cost_usd: the cost from the usage ledger, if any.
    :param resumed: the calls are a resumed try's (see :func:`datasets`).
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    inputs, outputs = datasets(records, base_url, paths_read, paths_written, resumed)
    facets = {FACET_NAME: run_facet(records, calls, cost_usd)} if calls or records else {}
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=facets)

"""The assets webhook events are recorded on: what DAG authors schedule on. Cheap to import (DAG-parse path)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import SplitResult

from airflow_provider_openai_fusion.webhooks.events import CONN_ID, EVENT_TYPES, SCHEME, asset_uri

if TYPE_CHECKING:
    from airflow.sdk import Asset

DEFAULT_CONN_ID = "openai_fusion_default"


def openai_webhook_asset(event_type: str, conn_id: str = DEFAULT_CONN_ID) -> Asset:
    """
    The asset that OpenAI webhooks of ``event_type`` received for ``conn_id`` become events of, for
    ``schedule=[openai_webhook_asset("batch.completed")]``; the DAG run reads the ids from
    ``triggering_asset_events``: each event's ``extra`` is ``{"event_id", "type", "object_id", "created_at"}``.

    :param event_type: an OpenAI webhook event type, e.g. ``batch.completed``, ``response.completed``,
        ``fine_tuning.job.succeeded``.
    :param conn_id: the connection whose ``webhook_secret`` verifies the webhooks (its id is in the webhook URL).
    """
    from airflow.sdk import Asset

    from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

    if event_type not in EVENT_TYPES:
        raise InvalidArgumentError(
            "event_type", f"{event_type!r} is not an OpenAI webhook event; one of {', '.join(sorted(EVENT_TYPES))}"
        )
    if not isinstance(conn_id, str) or not CONN_ID.fullmatch(conn_id):
        raise InvalidArgumentError("conn_id", f"{conn_id!r} is not a connection id (letters, digits, '_', '.', '-')")
    uri = asset_uri(conn_id, event_type)
    return Asset(uri=uri, name=uri)


def normalize_uri(parts: SplitResult) -> SplitResult:
    """
    Airflow's URI handler for the ``openai-fusion`` scheme: accepts ``openai-fusion://{conn_id}/{event_type}``
    only, so a typo in a hand-written URI fails when the DAG is parsed instead of waiting forever.

    :param parts: the URI, split.
    """
    event_type = parts.path.lstrip("/")
    if parts.scheme != SCHEME or not CONN_ID.fullmatch(parts.netloc) or event_type not in EVENT_TYPES:
        raise ValueError(f"an {SCHEME} asset URI is {SCHEME}://<conn_id>/<OpenAI webhook event type>")
    return parts

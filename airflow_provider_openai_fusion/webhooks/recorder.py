"""
The api-server side that touches Airflow: the connection's webhook secrets, and the event recorded once as an asset
event (imported only by the receiver app, inside the api-server).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from enum import Enum

from airflow_provider_openai_fusion.webhooks.events import Event, asset_uri
from airflow_provider_openai_fusion.webhooks.signature import secret_key

# OpenAI redelivers an unanswered event for up to 72 hours: a repeat is looked for over that span and a margin.
REPEAT_WINDOW = timedelta(hours=80)
_RECORDING = threading.Lock()


class Outcome(str, Enum):
    """What became of a verified event."""

    RECORDED = "recorded"
    REPEATED = "repeated"
    NO_ASSET = "no_asset"


def webhook_keys(conn_id: str) -> list[bytes]:
    """
    The key bytes of the connection's ``webhook_secret`` (several secrets, separated by spaces or commas, during a
    rotation); empty when the connection does not exist or has no valid secret.

    ``Connection.get_connection_from_secrets`` reads environment variables, the secrets backend and the database,
    and registers the extras of sensitive names (``webhook_secret``) with Airflow's log masker.

    :param conn_id: the connection id from the webhook URL.
    """
    from airflow.exceptions import AirflowNotFoundException  # type: ignore[attr-defined]  # re-exported at run time
    from airflow.models.connection import Connection

    from airflow_provider_openai_fusion.hooks.settings import webhook_secrets

    try:
        connection = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        return []
    if connection.conn_type != "openai_fusion":
        return []
    keys = []
    for secret in webhook_secrets(connection.extra_dejson.get("webhook_secret")):
        try:
            keys.append(secret_key(secret))
        except ValueError:
            continue
    return keys


def record(conn_id: str, event: Event) -> Outcome:
    """
    Record ``event`` as an asset event on ``openai-fusion://{conn_id}/{type}``, unless that asset has an event with
    its id already (a redelivery) or for its object (a batch completes once: a late webhook after the safety net
    recorded it), or no DAG uses that asset (Airflow keeps no asset nobody declared).

    :param conn_id: the connection that verified the event.
    :param event: the verified event.
    """
    from airflow.assets.manager import AssetManager
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils import timezone  # type: ignore[attr-defined]  # a lazy module of Airflow's
    from airflow.utils.session import create_session
    from sqlalchemy import or_, select

    uri = asset_uri(conn_id, event.type)
    now = timezone.utcnow()
    with _RECORDING, create_session() as session:
        asset = session.scalar(select(AssetModel).where(AssetModel.name == uri, AssetModel.uri == uri).limit(1))
        if asset is None:
            return Outcome.NO_ASSET
        earlier = session.scalar(
            select(AssetEvent.id)
            .where(
                AssetEvent.asset_id == asset.id,
                AssetEvent.timestamp >= now - REPEAT_WINDOW,
                or_(
                    AssetEvent.extra["event_id"].as_string() == event.event_id,
                    AssetEvent.extra["object_id"].as_string() == event.object_id,
                ),
            )
            .limit(1)
        )
        if earlier is not None:
            return Outcome.REPEATED
        AssetManager.register_asset_change(asset=asset, extra=event.extra(), timestamp=now, session=session)
    return Outcome.RECORDED

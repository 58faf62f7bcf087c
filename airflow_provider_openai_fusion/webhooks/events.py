"""
What a verified webhook says: the event, its asset URI and the asset event's ``extra``. No Airflow, no I/O.

OpenAI's event body is ``{"id": "evt_...", "object": "event", "type": "batch.completed", "created_at": 1719168000,
"data": {"id": "batch_..."}}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, cast

SCHEME = "openai-fusion"
# The endings OpenAI sends webhooks for, each about one object named by data.id.
EVENT_TYPES = frozenset(
    {
        "batch.completed",
        "batch.failed",
        "batch.expired",
        "batch.cancelled",
        "response.completed",
        "response.failed",
        "response.incomplete",
        "response.cancelled",
        "fine_tuning.job.succeeded",
        "fine_tuning.job.failed",
        "fine_tuning.job.cancelled",
        "eval.run.succeeded",
        "eval.run.failed",
        "eval.run.canceled",
    }
)
CONN_ID = re.compile(r"[A-Za-z0-9_.\-]{1,250}")
_OBJECT_ID = re.compile(r"[\x21-\x7e]{1,256}")


def asset_uri(conn_id: str, event_type: str) -> str:
    """
    The URI of the asset the events of ``event_type`` received for ``conn_id`` are recorded on.

    :param conn_id: the connection whose ``webhook_secret`` verified the event.
    :param event_type: e.g. ``batch.completed``.
    """
    return f"{SCHEME}://{conn_id}/{event_type}"


@dataclass(frozen=True)
class Event:
    """
    One OpenAI webhook event.

    :param event_id: the event's ``id`` (``evt_...``), the same on every delivery of it.
    :param type: e.g. ``batch.completed``.
    :param object_id: ``data.id``: the batch, response or fine-tuning job that ended.
    :param created_at: the event's ``created_at`` (Unix seconds).
    """

    event_id: str
    type: str
    object_id: str
    created_at: int

    def extra(self) -> dict[str, Any]:
        """The asset event's ``extra``: what a downstream DAG reads from ``triggering_asset_events``."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "object_id": self.object_id,
            "created_at": self.created_at,
        }


class MalformedEvent(ValueError):
    """A verified body that is not an OpenAI event (no id, type, data.id or created_at)."""


def parse_event(body: bytes) -> Event:
    """
    The event of a verified webhook body; raises :class:`MalformedEvent` when it does not have OpenAI's shape.

    :param body: the body bytes (already bounded in size and verified).
    """
    try:
        value = json.loads(body)
    except ValueError:
        raise MalformedEvent("the body is not JSON") from None
    data = value.get("data") if isinstance(value, dict) else None
    fields = {
        "event_id": value.get("id") if isinstance(value, dict) else None,
        "type": value.get("type") if isinstance(value, dict) else None,
        "object_id": data.get("id") if isinstance(data, dict) else None,
    }
    for name, field in fields.items():
        if not (isinstance(field, str) and _OBJECT_ID.fullmatch(field)):
            raise MalformedEvent(f"the event has no valid {name}")
    created_at = value.get("created_at")
    if not isinstance(created_at, int) or isinstance(created_at, bool):
        raise MalformedEvent("the event has no integer created_at")
    return Event(created_at=created_at, **cast("dict[str, str]", fields))  # each one checked to be a str above

"""The asset helper and the ``openai-fusion`` URI handler."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from airflow_provider_openai_fusion import openai_webhook_asset
from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.webhooks.assets import normalize_uri


def test_the_helper_names_the_asset_the_receiver_records_on() -> None:
    asset = openai_webhook_asset("batch.completed")
    assert asset.uri == asset.name == "openai-fusion://openai_fusion_default/batch.completed"
    other = openai_webhook_asset("fine_tuning.job.succeeded", conn_id="openai_prod")
    assert other.uri == "openai-fusion://openai_prod/fine_tuning.job.succeeded"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"event_type": "batch.complete"}, "event_type"),
        ({"event_type": "realtime.call.incoming"}, "event_type"),
        ({"event_type": "batch.completed", "conn_id": "has space"}, "conn_id"),
        ({"event_type": "batch.completed", "conn_id": ""}, "conn_id"),
    ],
)
def test_a_wrong_event_type_or_conn_id_is_named(kwargs: dict[str, str], argument: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"'{argument}'"):
        openai_webhook_asset(**kwargs)


@pytest.mark.parametrize(
    "uri",
    [
        "openai-fusion://openai_fusion_default/batch.completed",
        "openai-fusion://c-1.b/response.incomplete",
    ],
)
def test_the_handler_accepts_the_receivers_uris(uri: str) -> None:
    assert normalize_uri(urlsplit(uri)) == urlsplit(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "openai-fusion://openai_fusion_default/batch.done",
        "openai-fusion:///batch.completed",
        "openai-fusion://openai_fusion_default/batch.completed/extra",
        "openai-fusion://a b/batch.completed",
    ],
)
def test_the_handler_refuses_a_uri_no_webhook_would_record(uri: str) -> None:
    with pytest.raises(ValueError, match="openai-fusion://<conn_id>/<OpenAI webhook event type>"):
        normalize_uri(urlsplit(uri))


def test_the_connection_holds_one_secret_or_several_during_a_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_openai_fusion.hooks.settings import webhook_secrets
    from airflow_provider_openai_fusion.webhooks.recorder import webhook_keys
    from airflow_provider_openai_fusion.webhooks.signature import secret_key
    from tests.conftest import connection_json

    new, old = "whsec_" + "A" * 43 + "=", "whsec_" + "B" * 43 + "="
    assert webhook_secrets(f" {new}  {old} ") == webhook_secrets(f"{new},{old}") == [new, old]
    assert webhook_secrets("") == webhook_secrets(None) == []
    monkeypatch.setenv("AIRFLOW_CONN_HOOKED", connection_json("https://api.test/v1", webhook_secret=f"{new} not*b64"))
    assert webhook_keys("hooked") == [secret_key(new)]
    monkeypatch.setenv("AIRFLOW_CONN_PLAIN", connection_json("https://api.test/v1"))
    assert webhook_keys("plain") == webhook_keys("missing") == []
    monkeypatch.setenv("AIRFLOW_CONN_OTHER", json.dumps({"conn_type": "http", "extra": {"webhook_secret": new}}))
    assert webhook_keys("other") == [], "only an openai_fusion connection verifies OpenAI webhooks"

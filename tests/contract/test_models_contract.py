"""
``/models`` with ``shutdown_date`` (past, near and null) through ``prism proxy --errors``: Prism turns an answer
off the spec into a 500 and flags it in ``sl-violations``, so a clean 200 here is an answer whose shape the spec
accepts (the dates are the stand-in's, not OpenAI's).
"""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from airflow_provider_openai_fusion.model_lifecycle import shutdown_date_of, shutdown_warning, today_utc
from dev.standin.models import RETIRING_IN_DAYS, RETIRING_MODEL
from tests.conftest import Stack

# The session's stand-in starts in the first test that needs it (up to 120 s).
pytestmark = [pytest.mark.contract, pytest.mark.timeout(300)]


def _get(stack: Stack, path: str) -> httpx.Response:
    answer = httpx.get(f"{stack.base_url}{path}", headers={"Authorization": f"Bearer {stack.api_key}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert "sl-violations" not in answer.headers, answer.headers["sl-violations"]
    return answer


def test_list_carries_past_near_and_null_shutdown_dates(stack: Stack) -> None:
    today = today_utc()
    models = {model["id"]: model for model in _get(stack, "/models").json()["data"]}
    assert models["gpt-image-1"]["shutdown_date"] == "2026-10-23"
    assert models[RETIRING_MODEL]["shutdown_date"] == (today + timedelta(days=RETIRING_IN_DAYS)).isoformat()
    assert models["gpt-image-2"]["shutdown_date"] is None
    past = [m for m in models.values() if (d := shutdown_date_of(m)) is not None and d <= today]
    near = [m for m in models.values() if (d := shutdown_date_of(m)) is not None and 0 < (d - today).days <= 30]
    assert past and near
    assert shutdown_warning(models["gpt-image-1"], today=date(2026, 11, 29)) == (
        "Model gpt-image-1 was shut down on 2026-10-23; the recommended replacement is gpt-image-2"
    )
    assert shutdown_warning(models[RETIRING_MODEL]) == (
        f"Model {RETIRING_MODEL} shuts down on {models[RETIRING_MODEL]['shutdown_date']} (in {RETIRING_IN_DAYS} days)"
    )
    assert shutdown_warning(models["gpt-image-2"]) is None


@pytest.mark.parametrize("model_id", ["gpt-image-1", RETIRING_MODEL, "gpt-image-2"])
def test_retrieve_carries_the_same_shutdown_date(stack: Stack, model_id: str) -> None:
    listed = {model["id"]: model for model in _get(stack, "/models").json()["data"]}
    assert _get(stack, f"/models/{model_id}").json() == listed[model_id]

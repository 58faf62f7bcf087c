"""
``max_run_cost_usd`` on a real scheduler (api-server, scheduler, triggerer, dag-processor; LocalExecutor): two
concurrent chat tasks fit in the run's budget, the third, which runs after them, would pass it and is refused before
sending, with the run's recorded costs (the ``openai_fusion_usage`` XComs of the first two) in its error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from airflow_provider_openai_fusion import _budget
from airflow_provider_openai_fusion._ledger import USAGE_KEY
from airflow_provider_openai_fusion.api._base import request_body
from airflow_provider_openai_fusion.api.chat import ChatCompletionRequest
from airflow_provider_openai_fusion.pricing import cost_usd, price_of
from dev.stack import free_port
from tests.conftest import Stack
from tests.e2e.dags.run_budget import CAP, MESSAGES
from tests.e2e.services import airflow_env, airflow_services, prepare_home, start_run, wait_for

pytestmark = [pytest.mark.contract, pytest.mark.airflow, pytest.mark.timeout(1500)]

DAG_ID = "openai_fusion_run_budget"
MODEL = "gpt-5.6-luna"


def one_call(stack: Stack) -> tuple[float, float]:
    """The worst case each task estimates, and what one call actually costs at the stand-in (same request)."""
    body = request_body(ChatCompletionRequest, {"model": MODEL, "messages": MESSAGES}, CAP)
    worst, _ = _budget.price_estimate(_budget.chat(body), None, "max_run_cost_usd")
    answer = httpx.post(
        f"{stack.base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {stack.api_key}"}
    ).json()
    usage = answer["usage"]
    actual = cost_usd(price_of(MODEL), input_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"])
    assert actual and 0 < actual <= worst
    return worst, actual


def test_the_third_task_would_pass_the_run_budget_and_is_refused(stack: Stack, tmp_path: Path) -> None:
    worst, actual = one_call(stack)
    budget = worst + 1.5 * actual  # room for one recorded call and a worst case, not for two recorded calls
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "dags" / "run_budget.py", home / "dags" / "run_budget.py")
    port = free_port()
    env = {**airflow_env(home, port), "OPENAI_FUSION_RUN_BUDGET": repr(budget)}
    prepare_home(env, stack)

    with airflow_services(home, env, port) as api, httpx.Client(base_url=f"{api}/api/v2", timeout=10) as client:
        run_id = start_run(client, DAG_ID, home)
        run = f"/dags/{DAG_ID}/dagRuns/{run_id}"
        wait_for("the run to finish", lambda: client.get(run).json()["state"] in ("success", "failed"), 300, home)
        states = {ti["task_id"]: ti["state"] for ti in client.get(f"{run}/taskInstances").json()["task_instances"]}
        assert states == {"first": "success", "second": "success", "third": "failed"}, states
        costs = []
        for task_id in ("first", "second"):
            entry = client.get(f"{run}/taskInstances/{task_id}/xcomEntries/{USAGE_KEY}", params={"deserialize": True})
            assert entry.status_code == 200, entry.text
            record = entry.json()["value"]
            assert record["model"] == MODEL and record["calls"] == 1
            costs.append(record["cost_usd"])
        assert sum(costs) == pytest.approx(2 * actual, rel=1e-6)
        refused = client.get(f"{run}/taskInstances/third/xcomEntries/{USAGE_KEY}")
        assert refused.status_code == 404  # nothing was sent, so nothing was recorded
        tries = client.get(f"{run}/taskInstances/third").json()["try_number"]

    log = next((home / "logs").rglob("task_id=third/attempt=*.log")).read_text(errors="replace")
    assert "BudgetExceededError" in log and "max_run_cost_usd" in log and "no request was sent" in log
    assert tries == 1  # an AirflowFailException: not retried
    everything = "".join(p.read_text(errors="replace") for p in home.rglob("*.out")) + log
    assert stack.api_key not in everything

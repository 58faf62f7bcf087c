"""
OpenAI webhooks through a real Airflow (api-server, scheduler, triggerer, dag-processor on 127.0.0.1): the example
pair ``example_dags/batch_webhook_nightly.py`` submits a batch without waiting; the stand-in ends it by itself and
posts ``batch.completed``, signed with the ``standardwebhooks`` reference package, to the provider's receiver on the
api-server; the asset event appears and the results DAG scheduled on it joins the results in input order. Then the
refusals, each against the running api-server: forged signature, stale timestamp, replayed ``webhook-id``, unknown
event type, 2 MiB body, unknown connection; and the secret in no log. Bounded: every wait has a deadline, every
process is stopped at the end.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion.webhooks.signature import secret_key, sign
from dev.stack import free_port, running_stack
from tests.conftest import ROOT, connection_json
from tests.e2e.services import AIRFLOW, airflow_env, airflow_services, start_run, wait_for

pytestmark = [pytest.mark.contract, pytest.mark.airflow]

SUBMIT = "openai_fusion_webhook_batch_submit"
RESULTS = "openai_fusion_webhook_batch_results"
LISTENER = "openai_fusion_webhook_response_listener"
TICKETS = [f"ticket-{n}" for n in range(101, 106)]


def events(client: httpx.Client) -> list[dict[str, Any]]:
    """
    Every asset event on an openai-fusion asset; none yet while Airflow's API answers 500, as Airflow 3.3 does for
    an event whose DAG run is queued but not started (``created_dagruns.0.start_date``: ``None`` fails its response
    model), so that ``wait_for`` asks again within its bound.
    """
    answer = client.get("/assets/events", params={"limit": 100})
    if answer.status_code == 500:
        return []
    found = answer.json()["asset_events"]
    return [event for event in found if str(event.get("uri", "")).startswith("openai-fusion://")]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = httpx.post(url, content=body, headers=headers, timeout=10)
    return answer, time.monotonic() - started


def signed(secret: str, body: bytes, webhook_id: str, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = sign(secret_key(secret), webhook_id, timestamp, body)
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def event_body(type_: str, event_id: str, object_id: str) -> bytes:
    event = {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created_at": int(time.time()),
        "data": {"id": object_id},
    }
    return json.dumps(event).encode()


@pytest.mark.timeout(900)
def test_a_webhook_starts_the_results_dag_and_every_bad_delivery_is_refused(tmp_path: Path) -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    api_key = f"sk-standin-{secrets.token_hex(8)}"
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "example_dags" / "batch_webhook_nightly.py", home / "dags")
    shutil.copy(ROOT / "tests" / "e2e" / "dags" / "webhook_listeners.py", home / "dags")
    port = free_port()
    receiver = f"http://127.0.0.1:{port}/openai-fusion/webhooks/openai_fusion_default"
    stack_logs = tmp_path / "stack"
    with running_stack(api_key, stack_logs, job_step_seconds=0.3, webhook_url=receiver, webhook_secret=secret) as base:
        env = airflow_env(home, port)
        env["AIRFLOW_CONN_OPENAI_FUSION_DEFAULT"] = connection_json(base, api_key, webhook_secret=secret)
        subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=180)
        with airflow_services(home, env, port) as api, httpx.Client(base_url=f"{api}/api/v2", timeout=10) as client:
            for dag_id in (RESULTS, LISTENER):
                wait_for(
                    f"{dag_id} to be parsed", lambda d=dag_id: client.get(f"/dags/{d}").status_code == 200, 180, home
                )
            assert client.patch(f"/dags/{RESULTS}", json={"is_paused": False}).status_code == 200

            # The flow: submit without waiting -> the stand-in ends the batch and posts batch.completed -> results.
            run_id = start_run(client, SUBMIT, home, scheduled=True)
            submit = f"/dags/{SUBMIT}/dagRuns/{run_id}/taskInstances/submit"
            wait_for("the submit task", lambda: client.get(submit).json().get("state") == "success", 240, home)
            xcom = client.get(f"{submit}/xcomEntries/return_value", params={"deserialize": True}).json()["value"]
            (batch_id,) = (xcom if isinstance(xcom, dict) else json.loads(xcom))["batch_ids"]
            recorded = wait_for("the batch.completed asset event", lambda: events(client), 120, home)
            assert [e["extra"]["object_id"] for e in recorded] == [batch_id]
            (event,) = recorded
            assert event["uri"] == "openai-fusion://openai_fusion_default/batch.completed"
            assert set(event["extra"]) == {"event_id", "type", "object_id", "created_at"}
            assert event["extra"]["event_id"].startswith("evt_") and event["extra"]["type"] == "batch.completed"

            def results_run() -> dict[str, Any] | None:
                runs = client.get(f"/dags/{RESULTS}/dagRuns").json()["dag_runs"]
                return runs[0] if runs and runs[0]["state"] in ("success", "failed") else None

            run = wait_for("the results DAG run", results_run, 240, home)
            assert run["state"] == "success", run
            assert len(client.get(f"/dags/{RESULTS}/dagRuns").json()["dag_runs"]) == 1
            read = f"/dags/{RESULTS}/dagRuns/{run['dag_run_id']}/taskInstances/read_results/xcomEntries/return_value"
            summary = client.get(read, params={"deserialize": True}).json()["value"]
            summary = summary if isinstance(summary, dict) else json.loads(summary)
            assert summary["order"] == TICKETS
            assert summary["counts"] == {"total": 5, "succeeded": 5, "failed": 0, "expired": 0}
            started = datetime.fromisoformat(run["start_date"]) - datetime.fromisoformat(event["timestamp"])
            print(f"asset event to results DAG run start: {started.total_seconds():.1f} s")

            # Refusals: each the same short 400, nothing recorded.
            before = len(events(client))
            body = event_body("response.completed", "evt_attack_1", "resp_attack_1")
            other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
            cases = {
                "forged signature": (receiver, body, signed(other, body, "wh_forged")),
                "stale timestamp": (receiver, body, signed(secret, body, "wh_stale", int(time.time()) - 600)),
                "unknown connection": (
                    receiver.replace("openai_fusion_default", "nope"),
                    body,
                    signed(secret, body, "x"),
                ),
                "no signature": (receiver, body, {"webhook-id": "wh_x", "webhook-timestamp": str(int(time.time()))}),
                "2 MiB body": (receiver, b" " * (2 << 20), signed(secret, b" " * (2 << 20), "wh_big")),
            }
            for reason, (url, content, headers) in cases.items():
                answer, _ = post(url, content, headers)
                assert (answer.status_code, answer.json()) == (400, {"detail": "invalid webhook"}), reason
            assert len(events(client)) == before

            # An unknown type is acknowledged and not recorded.
            unknown = event_body("realtime.call.incoming", "evt_unknown", "rtc_1")
            answer, _ = post(receiver, unknown, signed(secret, unknown, "wh_unknown"))
            assert answer.status_code == 200
            assert len(events(client)) == before

            # A replayed webhook-id is acknowledged every time and recorded once; each answer within a second.
            timings = []
            for attempt in range(3):
                answer, elapsed = post(receiver, body, signed(secret, body, "wh_replayed", int(time.time()) - attempt))
                assert answer.status_code == 200
                timings.append(elapsed)
            replayed = [e for e in events(client) if e["extra"].get("event_id") == "evt_attack_1"]
            assert len(replayed) == 1 and replayed[0]["uri"].endswith("/response.completed")
            assert max(timings) < 1.0, timings
            print(f"webhook answer times (s): {[round(t, 3) for t in timings]}")

    assert "Refused a webhook for connection 'nope'" in (home / "api-server.out").read_text(errors="replace")
    secret_text = secret.removeprefix("whsec_")
    logs = [p for p in [*home.rglob("*"), *stack_logs.rglob("*")] if p.is_file() and p.suffix in (".log", ".out")]
    assert logs
    leaked = [str(p) for p in logs if secret_text in p.read_text(errors="replace")]
    assert not leaked, f"the webhook secret is in {leaked}"

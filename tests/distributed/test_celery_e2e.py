"""
The provider on a distributed Airflow, all on 127.0.0.1: PostgreSQL as the metadata DB (and Celery's result
backend), Redis as the Celery broker, two Celery workers, scheduler, triggerer, dag-processor and api-server,
from ``build/distributed-venv`` (``bash scripts/bootstrap.sh --distributed``), where the provider is installed
from a wheel. The tour DAG and the chat fan-out (200 mapped chat completions in the pool ``openai_fusion``) run
together against the stand-in behind ``prism proxy --errors``, triggered through the REST API.

Checked: every task instance succeeds; both workers ran tasks; the XComs are rows of PostgreSQL (no SQLite file
anywhere); the tour's fine-tuning wait went deferred and resumed from the triggerer; every file handed from one
task to the next is an ``ObjectStoragePath`` URI under the shared root; the pool held the chat calls to its
slots across both workers; every listening socket is on 127.0.0.1; the API key is in no log.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from dev.stack import free_port, running_stack
from tests.conftest import ROOT, Stack
from tests.distributed.services import (
    AIRFLOW,
    WORKERS,
    Postgres,
    airflow_components,
    airflow_env,
    postgres,
    redis,
    stale_provider_files,
)

# PostgreSQL, Redis, db migrate (up to 300 s), the services' waits (up to 390 s) and the runs (RUN_TIMEOUT), with slack.
pytestmark = [pytest.mark.contract, pytest.mark.airflow, pytest.mark.distributed, pytest.mark.timeout(2400)]

TOUR, FAN_OUT = "openai_fusion_tour", "openai_fusion_chat_fan_out"
DAG_FILES = {TOUR: "openai_fusion_tour.py", FAN_OUT: "openai_fusion_chat_fan_out.py"}
CHAT_CALLS = 200
POOL_SLOTS = 6
WORKER_CONCURRENCY = 4  # two workers: 8 task slots, more than the pool's 6
RUN_TIMEOUT = 420


@pytest.fixture
def root() -> Iterator[Path]:
    """A temp folder for everything: the services' data, AIRFLOW_HOME, the shared output root."""
    path = Path(tempfile.mkdtemp(prefix="openai-fusion-distributed-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _wait_for(what: str, check: Callable[[], object], timeout: float, home: Path) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if result := check():
                return result
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted(home.glob("*.out")))
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def _listening_addresses(leaders: set[int]) -> set[str]:
    """
    The local IPv4 addresses (hex, as ``/proc/net/tcp`` shows them) of every listening TCP socket held by a
    process of ``leaders`` or of their process groups.

    :param leaders: process ids.
    """
    pids = set(leaders)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) in leaders:  # the process group
                pids.add(int(stat.parent.name))
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if (target := os.readlink(fd)).startswith("socket:["):
                        inodes.add(target[8:-1])
    addresses: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                addresses.add(fields[1].split(":")[0])
    return addresses


def _task_instances(db: Postgres) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every task instance: ``{(dag_id, task_id, map_index): {"state", "hostname", "pool", "start", "end"}}``."""
    sql = (
        "SELECT dag_id, task_id, map_index, state, hostname, pool, "
        "extract(epoch FROM start_date), extract(epoch FROM end_date) FROM task_instance"
    )
    return {
        (dag_id, task_id, int(index)): {
            "state": state,
            "hostname": hostname,
            "pool": pool,
            "start": float(start or 0),
            "end": float(end or 0),
        }
        for dag_id, task_id, index, state, hostname, pool, start, end in db.query(sql)
    }


def _xcoms(db: Postgres) -> dict[tuple[str, str, int], Any]:
    """Every ``return_value`` XCom row, decoded: ``{(dag_id, task_id, map_index): value}``."""
    rows = db.query("SELECT dag_id, task_id, map_index, value FROM xcom WHERE key = 'return_value'")
    return {(dag_id, task_id, int(index)): json.loads(value) for dag_id, task_id, index, value in rows}


@pytest.fixture
def slow_stack(tmp_path: Path) -> Iterator[Stack]:
    """The stand-in behind prism proxy --errors; a fine-tuning job takes 6 s, so the tour's wait defers."""
    api_key = f"sk-standin-{secrets.token_hex(8)}"
    with running_stack(api_key, tmp_path / "stack-logs", job_step_seconds=2.0) as base_url:
        yield Stack(base_url, api_key)


def _failure_report(home: Path, failed: dict[tuple[str, str, int], str]) -> str:
    """
    What went wrong: the unsuccessful task instances, the end of the failed ones' logs and of every component's.

    :param home: ``AIRFLOW_HOME``.
    :param failed: ``{(dag_id, task_id, map_index): state}``.
    """
    parts = [repr(failed)]
    for dag_id, task_id, _ in (key for key, state in failed.items() if state == "failed"):
        for log in sorted((home / "logs" / f"dag_id={dag_id}").glob(f"*/task_id={task_id}/**/*.log")):
            parts.append(f"--- {log.relative_to(home)}\n{log.read_text(errors='replace')[-3000:]}")
    parts += [f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(home.glob("*.out"))]
    return "\n".join(parts)


def _overlap_peak(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def test_tour_and_fan_out_on_celery_postgres_redis(slow_stack: Stack, root: Path) -> None:
    assert AIRFLOW.exists(), "run bash scripts/bootstrap.sh --distributed first (it builds build/distributed-venv)"
    assert not (stale := stale_provider_files()), f"run bash scripts/bootstrap.sh --distributed: {stale} changed"
    started = time.monotonic()
    home, shared = root / "airflow", root / "shared"
    (home / "dags").mkdir(parents=True)
    for name in DAG_FILES.values():
        shutil.copy(ROOT / "example_dags" / name, home / "dags" / name)

    with postgres(root) as db, redis(root) as broker:
        env = airflow_env(home, db, broker.url, free_port(), f"file://{shared}")
        migrated = subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        with (
            airflow_components(home, env, WORKER_CONCURRENCY) as component_pids,
            httpx.Client(base_url=f"{env['AIRFLOW__API__BASE_URL']}/api/v2", timeout=30) as api,
        ):
            _wait_for("the api-server", lambda: api.get("/monitor/health").status_code == 200, 120, home)
            connection = {
                "connection_id": "openai_fusion_default",
                "conn_type": "openai_fusion",
                "host": slow_stack.base_url,
                "password": slow_stack.api_key,
                "extra": json.dumps({"max_retries": 2}),
            }
            assert api.post("/connections", json=connection).status_code == 201
            pool = {"name": "openai_fusion", "slots": POOL_SLOTS, "description": "OpenAI calls"}
            assert api.post("/pools", json=pool).status_code == 201
            for dag_id in DAG_FILES:
                _wait_for(f"{dag_id} to be parsed", lambda d=dag_id: api.get(f"/dags/{d}").status_code == 200, 90, home)
                assert api.patch(f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
            for name in WORKERS:
                _wait_for(f"{name} to be ready", lambda n=name: "ready." in (home / f"{n}.out").read_text(), 60, home)
            ready_seconds = time.monotonic() - started

            runs: dict[str, str] = {}
            for dag_id, conf in ((TOUR, {}), (FAN_OUT, {"count": CHAT_CALLS})):
                created = api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
                assert created.status_code == 200, created.text
                runs[dag_id] = created.json()["dag_run_id"]
            wait_states: list[str] = []

            def finished() -> bool:
                ti = api.get(f"/dags/{TOUR}/dagRuns/{runs[TOUR]}/taskInstances/ft_create_and_wait").json()
                if not wait_states or wait_states[-1] != ti.get("state"):
                    wait_states.append(ti.get("state"))
                states = [api.get(f"/dags/{d}/dagRuns/{r}").json()["state"] for d, r in runs.items()]
                return all(state in ("success", "failed") for state in states)

            _wait_for("both runs to finish", finished, RUN_TIMEOUT, home)
            run_seconds = time.monotonic() - started - ready_seconds
            tour_tasks = api.get(f"/dags/{TOUR}/tasks").json()["total_entries"]
            listening = _listening_addresses({db.server_pid(), broker.pid, *component_pids})
        instances = _task_instances(db)
        xcoms = _xcoms(db)

    # Every task instance succeeded: the tour's, the 200 chat calls and the task that gathers them.
    failed = {key: row["state"] for key, row in instances.items() if row["state"] != "success"}
    assert not failed, _failure_report(home, failed)
    assert len([key for key in instances if key[0] == TOUR]) == tour_tasks
    answers = {key[2]: row for key, row in instances.items() if key[:2] == (FAN_OUT, "answer")}
    assert sorted(answers) == list(range(CHAT_CALLS))

    # Both workers ran tasks, and nothing else did.
    per_worker = Counter(row["hostname"] for row in instances.values())
    assert set(per_worker) == set(WORKERS) and min(per_worker.values()) > 0, per_worker

    # XComs are rows of PostgreSQL: each chat answer is its own question's, the gathering task read all 200.
    for index in range(CHAT_CALLS):
        content = xcoms[(FAN_OUT, "answer", index)]["choices"][0]["message"]["content"]
        assert f"Question {index}: " in content, (index, content)
    assert xcoms[(FAN_OUT, "gather", -1)]["answers"] == CHAT_CALLS
    assert xcoms[(TOUR, "retrieve_model", -1)]["id"] == "gpt-5.6-luna"
    assert not [path for path in root.rglob("*.db")], "no SQLite database anywhere"

    # The fine-tuning wait went deferred, the triggerer polled the job, and the task resumed on a worker.
    assert "deferred" in wait_states and wait_states[-1] == "success", wait_states
    trigger_logs = [p for p in (home / "logs").rglob("*trigger*") if p.is_file() and "ft_create_and_wait" in str(p)]
    assert any("The job has successfully completed" in p.read_text(errors="replace") for p in trigger_logs)

    # Files handed from one task to the next are ObjectStoragePath URIs under the shared root, and are there.
    handed = {
        "media_inputs": list(xcoms[(TOUR, "media_inputs", -1)].values()),
        "ft_training_file": [xcoms[(TOUR, "ft_training_file", -1)]],
        "generate_image": xcoms[(TOUR, "generate_image", -1)]["paths"],
        "edit_image": xcoms[(TOUR, "edit_image", -1)]["paths"],
        "image_variation": xcoms[(TOUR, "image_variation", -1)]["paths"],
        "retrieve_file_content": [xcoms[(TOUR, "retrieve_file_content", -1)]],
    }
    for task_id, uris in handed.items():
        for uri in uris:
            assert uri.startswith(f"file://{shared}/tour/"), (task_id, uri)
            assert Path(urlsplit(uri).path).stat().st_size > 0, (task_id, uri)
    consumers = {
        "media_inputs": ["transcribe_audio", "translate_audio", "upload_file"],
        "generate_image": ["edit_image", "image_variation"],
        "ft_training_file": ["ft_upload"],
    }
    crossings = sum(
        instances[(TOUR, producer, -1)]["hostname"] != instances[(TOUR, consumer, -1)]["hostname"]
        for producer, names in consumers.items()
        for consumer in names
    )

    # The pool held the chat calls to its slots across both workers, while the two ran chat calls side by side.
    assert {row["pool"] for row in answers.values()} == {"openai_fusion"}
    peak = _overlap_peak([(row["start"], row["end"]) for row in answers.values()])
    assert peak <= POOL_SLOTS, peak
    first, second = ([(r["start"], r["end"]) for r in answers.values() if r["hostname"] == w] for w in WORKERS)
    assert any(a_start < b_end and b_start < a_end for a_start, a_end in first for b_start, b_end in second)

    # Every server of the setup listened on 127.0.0.1 only; the key is in no log.
    assert listening == {"0100007F"}, listening
    logs = [*home.glob("*.out"), *(p for p in (home / "logs").rglob("*") if p.is_file())]
    assert not [str(p) for p in logs if slow_stack.api_key in p.read_text(errors="replace")]

    print(
        f"\ndistributed: ready in {ready_seconds:.0f} s, both runs in {run_seconds:.0f} s; "
        f"{len(instances)} task instances per worker {dict(per_worker)}; chat calls in flight at most {peak} "
        f"(pool {POOL_SLOTS}); {crossings} of 6 file hand-offs crossed workers"
    )

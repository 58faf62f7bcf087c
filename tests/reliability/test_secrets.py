"""
Secrets: the API key never shows up in a log line, an exception, an XCom, a rendered template field or a file
the provider writes.

The unit half uses the fault server (servers that echo the key back); the Airflow half runs every example DAG
(and a DAG that fails on purpose) with ``airflow dags test`` against the stand-in and searches every byte of
the Airflow home (all task logs, the metadata DB with its XComs and rendered template fields, the outputs)
and the runs' console output for the key.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.api import models
from airflow_provider_openai_fusion.exceptions import APIStatusError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators.custom import OpenAICustomAPICallOperator
from tests.conftest import ROOT, SENTINEL_KEY, AirflowHome, Stack, connection_json
from tests.reliability.conftest import run_both
from tests.reliability.fault_server import FaultServer, Reply, Request, free_port, json_reply, openai_error

EXAMPLE_DAGS = sorted((ROOT / "example_dags").glob("*.py"))
PROBE_DAG = Path(__file__).parent / "dags" / "leak_probe.py"
ECHOES = {
    "OpenAI error JSON": openai_error(401, f"Incorrect API key provided: {SENTINEL_KEY}.", "invalid_request", None),
    "plain text": Reply(403, {"Content-Type": "text/plain"}, f"denied for Bearer {SENTINEL_KEY}".encode()),
    "HTML page": Reply(502, {}, f"<html><title>Bad key {SENTINEL_KEY}</title></html>".encode()),
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("echo", list(ECHOES), ids=str)
def test_error_bodies_are_shown_without_the_key(
    echo: str,
    mode: str,
    server: FaultServer,
    hook_at: Callable[..., OpenAIFusionHook],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow_provider_openai_fusion")
    server.script(ECHOES[echo])
    spec = RequestSpec("GET", "models")
    with pytest.raises(APIStatusError) as error:
        run_both(mode, hook_at(server.base_url, max_retries=1), lambda h: h.request(spec), lambda h: h.arequest(spec))
    text = str(error.value)
    assert "***" in text, "the server's message is shown, with the key blanked out"
    assert re.search(r"Incorrect API key provided|denied for Bearer|Bad key", text)
    assert SENTINEL_KEY not in text + repr(error.value) + caplog.text
    assert all(request.headers["authorization"] == f"Bearer {SENTINEL_KEY}" for request in server.requests)


def test_debug_logs_redact_the_authorization_header(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow_provider_openai_fusion")
    server.script(Reply(503, {"retry-after-ms": "10"}), json_reply(200, {"object": "list", "data": []}))
    hook = hook_at(server.base_url)
    assert (
        run_both("sync", hook, lambda h: h.paginate(models.list_models()), lambda h: h.apaginate(models.list_models()))
        == []
    )
    attempts = [record.getMessage() for record in caplog.records if "(attempt" in record.getMessage()]
    assert len(attempts) == 2
    assert all("'authorization': '***'" in message for message in attempts)
    assert SENTINEL_KEY not in caplog.text + repr(hook) + repr(hook.settings)


def test_custom_call_to_an_echoing_server_keeps_the_key_out_of_xcom(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    def echo(request: Request) -> Reply:
        return json_reply(200, {"headers": request.headers}, x_echo=request.headers["authorization"])

    server.script(echo)
    operator = OpenAICustomAPICallOperator(task_id="echo", url="echo")
    operator.hook = hook_at(server.base_url)
    xcom = operator.execute(context={})
    assert xcom["body"]["headers"]["authorization"] == "Bearer ***"
    assert xcom["headers"]["x-echo"] == "Bearer ***"
    assert SENTINEL_KEY not in repr(xcom)


def _occurrences(root: Path, needle: bytes) -> list[str]:
    return [str(path) for path in sorted(root.rglob("*")) if path.is_file() and needle in path.read_bytes()]


def _rows(database: Path, table: str) -> list[str]:
    """Every row of ``table`` as text, for a search that does not depend on how SQLite stores it."""
    with sqlite3.connect(database) as db:
        return [repr(row) for row in db.execute(f"SELECT * FROM {table}")]


@pytest.mark.contract
@pytest.mark.airflow
@pytest.mark.timeout(1800)  # every example DAG through `airflow dags test`: 614 s measured at a load average of 17
def test_no_example_dag_leaks_the_key(airflow_home: AirflowHome, stack: Stack) -> None:
    env = {
        "AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key),
        "AIRFLOW_CONN_OPENAI_FUSION_UNREACHABLE": connection_json(
            f"http://127.0.0.1:{free_port()}/v1", stack.api_key, max_retries=0
        ),
    }
    consoles: list[str] = []
    states: dict[str, str] = {}
    for dag_file in [*EXAMPLE_DAGS, PROBE_DAG]:
        dag_id = re.search(r'dag_id="([^"]+)"', dag_file.read_text()).group(1)
        tasks = airflow_home.run_dag(dag_file, dag_id, env)
        consoles.append(airflow_home.last.stdout + airflow_home.last.stderr)
        states |= {f"{dag_id}.{label}": result.state for label, result in tasks.items()}

    probe = {label.split(".", 1)[1]: state for label, state in states.items() if "leak_probe" in label}
    assert probe == {
        "api_error": "failed",
        "rendered_fields": "success",
        "bad_argument": "failed",
        "connection_error": "failed",
    }, probe
    database = airflow_home.home / "airflow.db"
    tables = {table: _rows(database, table) for table in ("xcom", "rendered_task_instance_fields", "log", "dag_run")}
    assert len(tables["xcom"]) > 20
    assert len(tables["rendered_task_instance_fields"]) > 20
    assert any("gpt-4o-mini" in row for row in tables["xcom"]), "XCom values are searchable as text"
    assert any("X-Probe" in row for row in tables["rendered_task_instance_fields"]), "so are rendered fields"
    console = "\n".join(consoles)
    for error in ("NotFoundError", "InvalidArgumentError", "APIConnectionError"):
        assert error in console, f"the probe's {error} is in the task logs"

    key = stack.api_key.encode()
    assert _occurrences(airflow_home.home, key) == []
    assert _occurrences(airflow_home.home, key[len("sk-standin-") :]) == []
    assert {table: [row for row in rows if stack.api_key in row] for table, rows in tables.items()} == {
        table: [] for table in tables
    }
    assert stack.api_key not in console
    failed = sorted(label for label, state in states.items() if state == "failed" and "leak_probe" not in label)
    print(
        f"leak scan: {len(EXAMPLE_DAGS) + 1} DAGs, {len(states)} task instances, {len(tables['xcom'])} XComs, "
        f"{len(tables['rendered_task_instance_fields'])} rendered-field rows, {len(console)} console chars: "
        f"0 occurrences; example tasks that failed: {failed}"
    )

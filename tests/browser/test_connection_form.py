"""
The "OpenAI Fusion" connection form of Airflow's UI, in a real browser.

The stand-in runs behind Prism and an Airflow api-server on 127.0.0.1; ``connection_form.mjs`` drives Debian's
headless Chromium with playwright-core: it adds the connection through the form, saves it, presses Test with the
right key and with a wrong one, and reads back what editing shows. Then a DAG task runs on the connection the
form stored. Screenshots go to a temporary folder, or to ``$OPENAI_FUSION_SCREENSHOTS`` (``scripts/screenshots.sh``
points it at ``docs/``); the test itself never writes tracked files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion.get_provider_info import get_provider_info
from dev.stack import free_port, stop_process, wait_until_up
from tests.browser.dags.openai_fusion_ui_connection import CONN_ID
from tests.conftest import AirflowHome, Stack

# The stand-in (up to 120 s) + Airflow's services + the browser script (up to 150 s), with slack.
pytestmark = [pytest.mark.browser, pytest.mark.contract, pytest.mark.airflow, pytest.mark.timeout(900)]

HERE = Path(__file__).resolve().parent
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
SCREENSHOTS = ("connection-form-empty.png", "connection-form-filled.png", "connection-test-result.png")
WRONG_KEY = "sk-wrong-key-0123456789abcdef"
EXTRAS = {"organization_id": "org-fusion-demo", "project_id": "proj_fusion_demo", "timeout": 120, "max_retries": 3}


def _chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM_PATH"), *CHROMIUM_CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("Debian's chromium is missing: run `bash scripts/bootstrap.sh --browser` (apt-get install chromium)")


@contextlib.contextmanager
def _api_server(home: AirflowHome, log: Path) -> Iterator[str]:
    """Run ``airflow api-server`` on a free port of 127.0.0.1 with the Test button on and no login; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **home.env,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE / "api_server_settings"), os.environ.get("PYTHONPATH")])),
    }
    command = [str(Path(sys.executable).with_name("airflow")), "api-server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        wait_until_up(f"{url}/api/v2/monitor/health", process, log, time.monotonic() + 90)
        yield url
    finally:
        stop_process(process)


def _drive_form(airflow_url: str, stack: Stack, screenshots: Path) -> dict[str, Any]:
    """Run ``connection_form.mjs`` against the api-server; return what it saw."""
    node = shutil.which("node")
    assert node, "node is missing: run `bash scripts/bootstrap.sh --browser`"
    screenshots.mkdir(parents=True, exist_ok=True)
    form_input = {
        "airflow": airflow_url,
        "chromium": _chromium(),
        "connId": CONN_ID,
        "baseUrl": stack.base_url,
        "apiKey": stack.api_key,
        "wrongKey": WRONG_KEY,
        "organizationId": EXTRAS["organization_id"],
        "projectId": EXTRAS["project_id"],
        "timeout": EXTRAS["timeout"],
        "maxRetries": EXTRAS["max_retries"],
        "screenshots": str(screenshots),
        "helpFields": list(get_provider_info()["connection-types"][0]["conn-fields"]),
    }
    env = {**os.environ, "CONNECTION_FORM_INPUT": json.dumps(form_input)}
    command = [node, str(HERE / "connection_form.mjs")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=150, cwd=HERE.parent.parent)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_connection_form_adds_tests_edits_and_feeds_a_task(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    home = AirflowHome(tmp_path_factory.mktemp("ui-airflow-home"))
    screenshots = Path(os.environ.get("OPENAI_FUSION_SCREENSHOTS") or tmp_path / "screenshots")
    api_log = tmp_path / "api-server.log"
    with _api_server(home, api_log) as airflow_url:
        page = _drive_form(airflow_url, stack, screenshots)

    assert "OpenAI Fusion" in page["typeOptions"]
    empty = page["emptyForm"]
    assert {"Base URL", "API Key", "Extra Fields"} <= set(empty["labels"])
    assert not {"Login", "Port", "Schema", "Host", "Password"} & set(empty["labels"])
    assert empty["hiddenPresent"] == []
    assert empty["placeholders"] == {"host": "https://api.openai.com/v1", "password": "sk-..."}
    assert empty["passwordType"] == "password"
    (conn_type,) = get_provider_info()["connection-types"]
    assert page["helpTexts"] == {name: spec["description"] for name, spec in conn_type["conn-fields"].items()}
    assert page["webhookSecretType"] == "password", "the webhook secret is masked like the key"

    right = page["rightKeyTest"]
    assert (right["httpStatus"], right["status"]) == (200, True), right
    assert right["toast"].startswith("Test Connection Successful"), right
    assert f"models available at {stack.base_url}" in right["toast"], right

    edit = page["editForm"]
    assert edit["host"] == stack.base_url
    assert (edit["password"], edit["passwordType"], edit["keyInPage"]) == ("***", "password", False)
    assert edit["extras"] == {name: str(value) for name, value in EXTRAS.items()}

    wrong = page["wrongKeyTest"]
    assert (wrong["httpStatus"], wrong["status"]) == (200, False), wrong
    assert wrong["toast"].startswith("Test Connection Failed"), wrong
    assert "Incorrect API key provided." in wrong["toast"], wrong
    assert WRONG_KEY not in wrong["toast"]

    for name in SCREENSHOTS:
        assert (screenshots / name).read_bytes().startswith(b"\x89PNG"), name

    tasks = home.run_dag(HERE / "dags" / "openai_fusion_ui_connection.py", "openai_fusion_ui_connection")
    states = {label: result.state for label, result in tasks.items()}
    assert states == {"connection_settings": "success", "list_models": "success"}, home.last.stderr[-4000:]
    expected = {"base_url": stack.base_url, **EXTRAS, "timeout": float(EXTRAS["timeout"])}
    assert tasks["connection_settings"].xcom == expected
    assert "gpt-4o-mini" in {model["id"] for model in tasks["list_models"].xcom}
    for output in (home.last.stdout + home.last.stderr, api_log.read_text(errors="replace")):
        assert stack.api_key not in output

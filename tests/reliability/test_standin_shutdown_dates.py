"""
The stand-in publishes configurable ``shutdown_date``s: run on loopback, it makes the chat operator refuse a past
model, warn about a near one and stay silent on a null one, with one ``GET /models`` for the three tasks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date

import pytest

from airflow_provider_openai_fusion import live_models, model_lifecycle
from airflow_provider_openai_fusion.exceptions import ModelRetiredError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator
from dev.standin.app import create_app, shutdown_date_option
from tests.conftest import connection_json
from tests.reliability.fault_server import free_port

KEY = "sk-standin-shutdown-dates"
DATES = {"gpt-4o-mini": "2026-12-01", "gpt-5.6-luna": "2026-12-20", "gpt-5.6-terra": None}


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, object]]:
    import uvicorn

    app = create_app(KEY, shutdown_dates=DATES)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    monkeypatch.setenv("AIRFLOW__OPENAI_FUSION__LIVE_MODEL_DATES", "True")
    monkeypatch.setattr(model_lifecycle, "today_utc", lambda: date(2026, 12, 7))
    live_models.forget()
    try:
        yield f"http://127.0.0.1:{port}", app.state.standin
    finally:
        live_models.forget()
        server.should_exit = True
        thread.join(timeout=10)


def chat(base_url: str, model: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("AIRFLOW_CONN_STANDIN_DATES", connection_json(base_url, KEY))
    operator = OpenAIChatCompletionOperator(
        task_id="t", conn_id="standin_dates", model=model, messages=[{"role": "user", "content": "Hi"}]
    )
    operator.hook = OpenAIFusionHook("standin_dates", max_retries=0)
    return operator.execute({})


def test_the_stand_in_s_dates_refuse_warn_and_stay_silent(
    standin: tuple[str, object], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base_url, state = standin
    with pytest.raises(ModelRetiredError, match=r"gpt-4o-mini was shut down at this server on 2026-12-01 \(per the"):
        chat(base_url, "gpt-4o-mini", monkeypatch)
    assert chat(base_url, "gpt-5.6-luna", monkeypatch)["model"] == "gpt-5.6-luna"
    assert chat(base_url, "gpt-5.6-terra", monkeypatch)["model"] == "gpt-5.6-terra"
    logged = capsys.readouterr().out
    assert "Model gpt-5.6-luna (at this server, per the server's GET /models) shuts down on 2026-12-20" in logged
    assert "Model gpt-5.6-terra" not in logged
    assert state.models_reads == 1  # type: ignore[attr-defined]


def test_the_shutdown_date_option_is_checked() -> None:
    import argparse

    assert shutdown_date_option("m=2027-01-02") == ("m", "2027-01-02")
    assert shutdown_date_option("m=null") == ("m", None)
    for bad in ("m", "=2027-01-02", "m=soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            shutdown_date_option(bad)

"""
The migration report on a folder of DAG files: literal, ``default_args``, ``.partial`` and templated models found
by reading the files (never importing them), dated from the table or the server, sorted, and gating CI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_openai_fusion.models.__main__ import main
from airflow_provider_openai_fusion.models.scan import scan, uses_in
from tests.conftest import ROOT, connection_json

DAGS = {
    "chat.py": """
import sys
sys.exit("a DAG file must never be imported by the report")
from airflow.sdk import DAG
from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator, OpenAIManageAudioOperator

CHEAP = "gpt-5-mini"
with DAG(dag_id="chat", default_args={"retries": 1, "model": "gpt-4.1-mini"}):
    OpenAIChatCompletionOperator(task_id="a", model="gpt-4o-mini", messages=[])
    OpenAIChatCompletionOperator(task_id="b", model=CHEAP, messages=[])
    OpenAIChatCompletionOperator(task_id="c", model="{{ params.model }}", messages=[])
    OpenAIManageAudioOperator(task_id="d", operation="translate", file="x.wav", text_model="gpt-5.6-luna")
    SomethingElse(task_id="e", model="gpt-4o")
""",
    "nested/batch.py": """
from airflow_provider_openai_fusion.operators import OpenAIBatchOperator, OpenAIChatCompletionOperator

default_args = {"owner": "me", "model": "whisper-1"}
OpenAIBatchOperator(task_id="f", endpoint="/v1/chat/completions", requests=[{"body": {"model": "gpt-5.1"}}])
OpenAIChatCompletionOperator.partial(task_id="g", model=pick()).expand(messages=[[]])
""",
    "broken.py": "def oops(:\n",
    "notes.txt": 'model="gpt-4o"',
}


@pytest.fixture
def dags(tmp_path: Path) -> Path:
    for name, text in DAGS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_scan_finds_literal_default_args_templated_and_dynamic_models(dags: Path) -> None:
    found = {(use.model, use.kind, use.where) for use in uses_in(dags / "chat.py")}
    assert found == {
        ("gpt-4.1-mini", "literal", "default_args['model']"),
        ("gpt-4o-mini", "literal", "OpenAIChatCompletionOperator(model=)"),
        ("gpt-5-mini", "literal", "OpenAIChatCompletionOperator(model=)"),
        ("{{ params.model }}", "templated", "OpenAIChatCompletionOperator(model=)"),
        ("gpt-5.6-luna", "literal", "OpenAIManageAudioOperator(text_model=)"),
    }
    uses, notes = scan(dags)
    assert {(use.model, use.kind) for use in uses if use.path.name == "batch.py"} == {
        ("whisper-1", "literal"),
        ("gpt-5.1", "literal"),
        ("pick()", "dynamic"),
    }
    assert len(notes) == 1 and "broken.py: not read (SyntaxError" in notes[0]


def test_the_report_sorts_by_date_and_fails_when_a_model_dies_within_the_window(
    dags: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", str(dags), "--today", "2026-12-07", "--within", "30"])
    out = capsys.readouterr().out
    assert code == 1
    dated = [line.split()[1] for line in out.splitlines() if line[:4] == "2026" or line[:4] == "2027"]
    assert dated == ["gpt-5-mini", "gpt-4.1-mini", "gpt-4o-mini", "whisper-1", "gpt-5.1"]
    assert "gpt-5-mini  (in 4 days)  -> gpt-6.1-terra  [table]" in out
    assert "{{ params.model }}  (templated: resolved at run time, not checked)" in out
    assert out.rstrip().endswith("8 model uses; 1 shut down within 30 days: gpt-5-mini")
    assert main(["report", str(dags), "--today", "2026-12-07", "--within", "3"]) == 0
    assert main(["report", str(dags), "--today", "2027-01-14", "--within", "0"]) == 1
    assert "gpt-4o-mini  (shut down 0 days ago)  -> gpt-6-luna  [table]" in capsys.readouterr().out


def test_with_a_connection_the_server_dates_win_and_are_said_to(
    dags: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.reliability.fault_server import json_reply, running_fault_server

    models = [
        {"id": "gpt-5.6-luna", "object": "model", "created": 1, "owned_by": "o", "shutdown_date": "2026-12-20"},
        {"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "o", "shutdown_date": None},
    ]
    with running_fault_server() as server:
        server.script(json_reply(200, {"object": "list", "data": models}))
        monkeypatch.setenv("AIRFLOW_CONN_LOCAL_LLM", connection_json(server.base_url))
        code = main(["report", str(dags / "chat.py"), "--conn-id", "local_llm", "--today", "2026-12-07"])
        assert [request.target for request in server.requests] == ["/v1/models"]
    out = capsys.readouterr().out
    assert code == 1
    assert "server dates: GET /models of 'local_llm' (1 dated)" in out
    assert "2026-12-20  gpt-5.6-luna  (in 13 days)  [server]" in out
    assert "gpt-4o-mini  (no shutdown announced)" in out  # not OpenAI's URL: the table does not count there


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["report", str(tmp_path / "missing")], ["report", str(tmp_path), "--within", "-1"], ["list"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_it_runs_as_a_module(dags: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_openai_fusion.models", "report", str(dags), "--today", "2026-12-01"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "gpt-5-mini  (in 10 days)" in done.stdout

"""
The retirement checks and the usage line against the stand-in behind ``prism proxy --errors``: the stand-in is
not OpenAI's base URL, so nothing is refused there, while Get models warns of the shutdown dates it answers.
The shapes are OpenAI's spec; the dates are the stand-in's, not OpenAI's schedule (docs/models.md has that).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_openai_fusion.exceptions import PermissionDeniedError
from dev.standin.models import RETIRING_IN_DAYS, RETIRING_MODEL
from tests.conftest import Stack, connection_json
from tests.unit.fine_tuning_fake import context
from tests.unit.media import write_png

# The session's stand-in starts in the first test that needs it (up to 120 s).
pytestmark = [pytest.mark.contract, pytest.mark.timeout(300)]


@pytest.fixture
def default_conn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_DEFAULT", connection_json(stack.base_url, stack.api_key))
    return stack


def _warnings(out: str) -> list[str]:
    return [line for line in out.splitlines() if "[warning" in line and "Model " in line]


def test_get_models_keeps_shutdown_date_and_warns_of_past_and_near_ones(default_conn: Stack, capsys) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIGetModelsOperator

    models = {m["id"]: m for m in OpenAIGetModelsOperator(task_id="list", action="list").execute({})}
    warnings = _warnings(capsys.readouterr().out)
    assert models["gpt-image-1"]["shutdown_date"] == "2026-10-23" and models["gpt-image-2"]["shutdown_date"] is None
    assert any("Model gpt-image-1 was shut down on 2026-10-23" in line for line in warnings), warnings
    assert any(f"Model {RETIRING_MODEL} shuts down on" in line for line in warnings), warnings
    assert not any("gpt-image-2" in line.split("replacement")[0] for line in warnings), warnings
    retrieved = OpenAIGetModelsOperator(task_id="get", action="retrieve", model=RETIRING_MODEL).execute({})
    assert retrieved == models[RETIRING_MODEL]
    assert [f"(in {RETIRING_IN_DAYS} days)" in line for line in _warnings(capsys.readouterr().out)] == [True]


def test_another_server_is_sent_retired_models_and_variations(default_conn: Stack, tmp_path: Path, capsys) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIEditImageOperator, OpenAIGenerateImageOperator

    old = OpenAIGenerateImageOperator(
        task_id="g", prompt="a kite", model="gpt-image-1", output_path=str(tmp_path / "a")
    )
    assert len(old.execute({})["paths"]) == 1
    new = OpenAIGenerateImageOperator(task_id="g2", prompt="a kite", output_path=str(tmp_path / "b"))
    assert len(new.execute({})["paths"]) == 1
    variation = OpenAIEditImageOperator(
        task_id="v", operation="variation", image=str(write_png(tmp_path / "in.png")), output_path=str(tmp_path / "v")
    )
    assert len(variation.execute({})["paths"]) == 1
    out = capsys.readouterr().out
    assert "Usage of gpt-image-1: input" in out and "Usage of gpt-image-2: input" in out
    assert not _warnings(out)


def test_chat_logs_one_usage_line(default_conn: Stack, capsys) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator

    answer = OpenAIChatCompletionOperator(
        task_id="c", model="gpt-5.6-luna", messages=[{"role": "user", "content": "Say hi"}]
    ).execute({})
    usage = answer["usage"]
    lines = [line for line in capsys.readouterr().out.splitlines() if "Usage of" in line]
    expected = (
        f"Usage of gpt-5.6-luna: input {usage['prompt_tokens']}, output {usage['completion_tokens']}, "
        f"total {usage['total_tokens']}"
    )
    assert len(lines) == 1 and expected in lines[0], lines


def test_an_eligibility_refusal_reads_clearly(default_conn: Stack) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIManageFineTunesOperator

    operator = OpenAIManageFineTunesOperator(
        task_id="create", action="create", model="gpt-4o-mini", training_file="file-abc", suffix="not-eligible"
    )
    with pytest.raises(PermissionDeniedError) as info:
        operator.execute(context())
    assert "may not start new fine-tuning jobs" in str(info.value)
    assert "OpenAI said: Your organization does not have access to self-serve fine-tuning." in str(info.value)
    assert info.value.status_code == 403 and info.value.code == "fine_tuning_not_available" and info.value.request_id

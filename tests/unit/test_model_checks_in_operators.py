"""
The retirement checks and the usage line in the operators: at OpenAI's base URL a retired model, a variation
or (after the cut-off) a fine-tuning job fails before any request; against other servers everything is sent.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion import model_lifecycle
from airflow_provider_openai_fusion.exceptions import (
    BadRequestError,
    InvalidArgumentError,
    ModelRetiredError,
    PermissionDeniedError,
)
from airflow_provider_openai_fusion.operators import (
    OpenAIChatCompletionOperator,
    OpenAICompletionOperator,
    OpenAIEditImageOperator,
    OpenAIEditOperator,
    OpenAIGenerateImageOperator,
    OpenAIGetModelsOperator,
    OpenAIManageAudioOperator,
    OpenAIManageFineTunesOperator,
)
from airflow_provider_openai_fusion.operators._base import usage_line
from tests.unit.fine_tuning_fake import FakeFineTuningAPI, context
from tests.unit.helpers import Script, ok, raises
from tests.unit.media import PNG_BYTES, b64, write_png, write_wav

OPENAI = "https://api.openai.com/v1"
LOCAL = "http://127.0.0.1:8000/v1"
CHAT_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4.1-nano",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
    "usage": {
        "prompt_tokens": 50,
        "completion_tokens": 20,
        "total_tokens": 70,
        "prompt_tokens_details": {"cached_tokens": 32},
        "completion_tokens_details": {"reasoning_tokens": 12},
    },
}
IMAGE_ANSWER = {
    "created": 1,
    "data": [{"b64_json": b64(PNG_BYTES)}],
    "usage": {"input_tokens": 9, "output_tokens": 272, "total_tokens": 281},
}
USER = [{"role": "user", "content": "Hello"}]


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> date:
    """The day of the review, so that the warning window is fixed."""
    day = date(2026, 11, 29)
    monkeypatch.setattr(model_lifecycle, "today_utc", lambda: day)
    return day


def _operators(tmp_path: Path) -> list[tuple[Any, dict[str, Any]]]:
    image = str(write_png(tmp_path / "in.png"))
    out = str(tmp_path / "out")
    return [
        (OpenAIChatCompletionOperator(task_id="t", model="gpt-4.1-nano", messages=USER), CHAT_ANSWER),
        (OpenAIEditOperator(task_id="t", model="o1", instruction="Fix.", input="teh"), CHAT_ANSWER),
        (OpenAICompletionOperator(task_id="t", model="gpt-3.5-turbo-instruct", prompt="Hi"), {"choices": []}),
        (OpenAIGenerateImageOperator(task_id="t", prompt="a cat", model="gpt-image-1", output_path=out), IMAGE_ANSWER),
        (
            OpenAIEditImageOperator(task_id="t", image=image, prompt="hat", model="gpt-image-1", output_path=out),
            IMAGE_ANSWER,
        ),
    ]


@pytest.mark.parametrize("index", range(5))
def test_a_retired_model_fails_before_any_request_at_openai(make_hook: Any, tmp_path: Path, index: int) -> None:
    operator, answer = _operators(tmp_path)[index]
    script = Script(ok(answer))
    operator.hook = make_hook(script, base_url=OPENAI)
    with raises(ModelRetiredError) as info:
        operator.execute({})
    assert info.value.argument == "model" and script.attempts == 0
    assert str(info.value.shutdown) in {"2026-09-28", "2026-10-23"}


@pytest.mark.parametrize("index", range(5))
def test_another_server_gets_any_model(make_hook: Any, tmp_path: Path, index: int) -> None:
    operator, answer = _operators(tmp_path)[index]
    script = Script(ok(answer))
    operator.hook = make_hook(script, base_url=LOCAL)
    operator.execute({})
    assert script.attempts == 1


def test_a_model_near_its_shutdown_is_sent_with_a_warning_in_the_log(make_hook: Any, tmp_path: Path, capsys) -> None:
    operator = OpenAIGenerateImageOperator(
        task_id="t", prompt="a cat", model="gpt-image-1-mini", output_path=str(tmp_path / "out")
    )
    script = Script(ok(IMAGE_ANSWER))
    operator.hook = make_hook(script, base_url=OPENAI)
    operator.execute({})
    logged = capsys.readouterr().out
    assert script.attempts == 1
    assert (
        "Model gpt-image-1-mini (at OpenAI, per the provider's retirement table, reviewed on 2026-12-07) shuts "
        "down on 2026-12-01 (in 2 days); the recommended replacement is gpt-image-2.6-sunburst or gpt-image-2.6-flare"
    ) in logged
    assert "Usage of gpt-image-1-mini: input 9, output 272, total 281 tokens" in logged


def test_the_image_default_is_gpt_image_2_sent_explicitly(make_hook: Any, tmp_path: Path) -> None:
    operator = OpenAIGenerateImageOperator(task_id="t", prompt="a cat", output_path=str(tmp_path / "out"))
    script = Script(ok(IMAGE_ANSWER))
    operator.hook = make_hook(script, base_url=OPENAI)
    operator.execute({})
    assert b'"model":"gpt-image-2"' in script.requests[0].content.replace(b" ", b"")


def test_chat_logs_one_usage_line_with_cached_and_reasoning_tokens(make_hook: Any, capsys) -> None:
    operator = OpenAIChatCompletionOperator(task_id="t", model="gpt-5.6-luna", messages=USER)
    operator.hook = make_hook(Script(ok(CHAT_ANSWER)), base_url=OPENAI)
    operator.execute({})
    lines = [line for line in capsys.readouterr().out.splitlines() if "Usage of" in line]
    assert len(lines) == 1
    assert "Usage of gpt-4.1-nano: input 50, output 20, total 70, cached 32, reasoning 12 tokens" in lines[0]


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"prompt_tokens": 7, "total_tokens": 7}, "Usage of m: input 7, total 7 tokens"),
        (
            {
                "input_tokens": 10,
                "output_tokens": 5,
                "total_tokens": 15,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 3},
            },
            "Usage of m: input 10, output 5, total 15, cached 0, reasoning 3 tokens",
        ),
        ({"type": "duration", "seconds": 4}, None),
        (None, None),
        ({"input_tokens": 1, "input_tokens_details": "odd"}, "Usage of m: input 1 tokens"),
    ],
)
def test_usage_line_reads_both_shapes(usage: Any, expected: str | None) -> None:
    assert usage_line("m", usage) == expected


def test_transcription_logs_usage_and_defaults_to_gpt_transcribe(make_hook: Any, tmp_path: Path, capsys) -> None:
    answer = {"text": "hi", "usage": {"type": "tokens", "input_tokens": 14, "output_tokens": 3, "total_tokens": 17}}
    operator = OpenAIManageAudioOperator(task_id="t", file=str(write_wav(tmp_path / "a.wav")))
    script = Script(ok(answer))
    operator.hook = make_hook(script, base_url=OPENAI)
    operator.execute({})
    assert b'name="model"\r\n\r\ngpt-transcribe' in script.requests[0].content
    assert "Usage of gpt-transcribe: input 14, output 3, total 17 tokens" in capsys.readouterr().out


def test_variation_is_refused_at_openai_and_sent_elsewhere(make_hook: Any, tmp_path: Path) -> None:
    image = str(write_png(tmp_path / "in.png"))
    operator = OpenAIEditImageOperator(
        task_id="t", operation="variation", image=image, output_path=str(tmp_path / "out")
    )
    script = Script(ok(IMAGE_ANSWER))
    operator.hook = make_hook(script, base_url=OPENAI)
    with raises(InvalidArgumentError, match="dall-e-2, which OpenAI removed") as info:
        operator.execute({})
    assert info.value.argument == "operation" and "operation='edit'" in info.value.reason and script.attempts == 0
    operator.hook = make_hook(script, base_url=LOCAL)
    operator.execute({})
    assert script.attempts == 1 and b"dall-e-2" in script.requests[0].content


def _fine_tune(make_hook: Any, handler: Any, base_url: str, **kwargs: Any) -> OpenAIManageFineTunesOperator:
    arguments = {"action": "create", "model": "gpt-4o-mini", "training_file": "file-1", **kwargs}
    task = OpenAIManageFineTunesOperator(task_id="create", **arguments)
    task.hook = make_hook(handler, base_url=base_url)
    return task


def test_fine_tuning_logs_the_cutoff_at_openai_and_creates(make_hook: Any, capsys) -> None:
    api = FakeFineTuningAPI()
    job = _fine_tune(make_hook, api, OPENAI).execute(context())
    assert job["status"] == "validating_files" and len(api.posts) == 1
    assert "New fine-tuning jobs end at OpenAI on 2027-01-06 (38 days left" in capsys.readouterr().out


def test_fine_tuning_is_refused_at_openai_after_the_cutoff(make_hook: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_lifecycle, "today_utc", lambda: date(2027, 1, 6))
    api = FakeFineTuningAPI()
    with raises(InvalidArgumentError, match="2027-01-06") as info:
        _fine_tune(make_hook, api, OPENAI).execute(context())
    assert info.value.argument == "action" and api.requests == []
    _fine_tune(make_hook, api, LOCAL).execute(context())
    assert len(api.posts) == 1


def test_a_retired_base_model_is_refused_before_any_request(make_hook: Any) -> None:
    api = FakeFineTuningAPI()
    with raises(ModelRetiredError):
        _fine_tune(make_hook, api, OPENAI, model="gpt-3.5-turbo").execute(context())
    assert api.requests == []


def _refusal(status: int, message: str, param: str | None = None) -> httpx.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": "x", "param": param}}
    return httpx.Response(status, json=body, headers={"x-request-id": "req_1"})


def test_an_eligibility_refusal_reads_clearly(make_hook: Any) -> None:
    for status, error in ((403, PermissionDeniedError), (400, BadRequestError)):
        replies = Script(_refusal(status, "No access to fine-tuning."))
        with raises(error) as info:
            _fine_tune(make_hook, replies, OPENAI).execute(context())
        assert str(info.value).startswith(
            "OpenAI API error: OpenAI refused to create the fine-tuning job: this organization or project may not "
            "start new fine-tuning jobs"
        )
        assert "OpenAI said: No access to fine-tuning." in str(info.value)
        assert info.value.status_code == status and info.value.request_id == "req_1"


def test_other_refusals_stay_as_openai_said(make_hook: Any) -> None:
    message = "Model gpt-4o-mini is not available for fine-tuning or does not exist."
    replies = Script(_refusal(400, message, param="model"))
    with raises(BadRequestError) as info:
        _fine_tune(make_hook, replies, OPENAI).execute(context())
    assert info.value.message == message


def test_get_models_warns_of_past_and_near_shutdowns(make_hook: Any, capsys) -> None:
    models = [
        {"id": "gpt-image-1", "object": "model", "created": 1, "owned_by": "system", "shutdown_date": "2026-10-23"},
        {"id": "soon", "object": "model", "created": 1, "owned_by": "system", "shutdown_date": "2026-12-20"},
        {"id": "later", "object": "model", "created": 1, "owned_by": "system", "shutdown_date": "2027-06-01"},
        {"id": "gpt-image-2", "object": "model", "created": 1, "owned_by": "system", "shutdown_date": None},
    ]
    operator = OpenAIGetModelsOperator(task_id="t", action="list")
    operator.hook = make_hook(Script(ok({"object": "list", "data": models, "has_more": False})), base_url=LOCAL)
    assert operator.execute({}) == models
    warnings = [line for line in capsys.readouterr().out.splitlines() if "[warning" in line and "Model " in line]
    assert len(warnings) == 2
    assert "Model gpt-image-1 was shut down on 2026-10-23; the recommended replacement is gpt-image-2" in warnings[0]
    assert "Model soon shuts down on 2026-12-20 (in 21 days)" in warnings[1]


@pytest.mark.parametrize(("day", "outcome"), [(date(2026, 12, 20), "warned"), (date(2027, 1, 6), "refused")])
def test_speech_models_are_checked_against_their_shutdown(
    make_hook: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, day: date, outcome: str
) -> None:
    monkeypatch.setattr(model_lifecycle, "today_utc", lambda: day)
    operator = OpenAIManageAudioOperator(
        task_id="t", operation="speech", model="gpt-4o-mini-tts", input="Hello", output_path=str(tmp_path / "hello.mp3")
    )
    script = Script(httpx.Response(200, content=b"ID3\x04" + bytes(100)))
    operator.hook = make_hook(script, base_url=OPENAI)
    if outcome == "refused":
        with raises(InvalidArgumentError, match="OpenAI shut down /audio/speech") as info:
            operator.execute({})
        assert info.value.argument == "operation" and "2027-01-06" in str(info.value)
        assert script.attempts == 0
        return
    operator.execute({})
    assert script.attempts == 1
    out = capsys.readouterr().out
    assert "Model gpt-4o-mini-tts (at OpenAI, per the provider's retirement table" in out
    assert "shuts down on 2027-01-06 (in 17 days)" in out
    assert (
        "OpenAI shuts down /audio/speech (tts-1, tts-1-hd, gpt-4o-mini-tts) on 2027-01-06 (17 days left); no model "
        "replaces them on /audio/speech" in out
    )


def test_a_batch_naming_a_retired_model_fails_before_any_upload(make_hook: Any, tmp_path: Path) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIBatchOperator
    from tests.unit.batches_fake import FakeBatchAPI

    def body(model: str) -> dict[str, Any]:
        return {"model": model, "messages": [{"role": "user", "content": "hi"}]}

    requests = [body("gpt-5.6-luna"), {"custom_id": "old", "body": body("o4-mini")}]
    api = FakeBatchAPI()
    task = OpenAIBatchOperator(
        task_id="b", endpoint="/v1/chat/completions", requests=requests, output_path=str(tmp_path / "out.jsonl")
    )
    task.hook = make_hook(api, base_url=OPENAI)
    with raises(ModelRetiredError, match="o4-mini was shut down at OpenAI on 2026-10-23"):
        task.execute(context())
    assert api.requests == []

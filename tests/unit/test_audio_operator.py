"""The audio operator: the multipart upload, the limits checked first, JSON or text back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError
from airflow_provider_openai_fusion.operators import OpenAIManageAudioOperator
from tests.unit.helpers import Script, ok, raises
from tests.unit.media import fields, parts, sparse, write_wav


def run(make_hook: Any, operator: Any, reply: httpx.Response) -> tuple[Any, Script]:
    script = Script(reply)
    operator.hook = make_hook(script)
    return operator.execute({}), script


def test_transcribe_uploads_the_file_and_returns_the_json(make_hook: Any, tmp_path: Path) -> None:
    audio = write_wav(tmp_path / "speech.wav")
    operator = OpenAIManageAudioOperator(task_id="t", file=str(audio), advanced={"language": "en"})
    result, script = run(make_hook, operator, ok({"text": "hello", "usage": {"type": "duration", "seconds": 1}}))
    request = script.requests[0]
    assert request.url.path == "/v1/audio/transcriptions"
    assert [(p.name, p.filename, p.content_type, p.data) for p in parts(request) if p.filename] == [
        ("file", "speech.wav", "audio/wav", audio.read_bytes())
    ]
    assert fields(request) == {"model": ["gpt-transcribe"], "language": ["en"]}
    assert result == {"text": "hello", "usage": {"type": "duration", "seconds": 1}}


@pytest.mark.parametrize("response_format", ["text", "srt", "vtt"])
def test_translate_returns_the_text_formats_as_text(make_hook: Any, tmp_path: Path, response_format: str) -> None:
    audio = write_wav(tmp_path / "speech.mp3")
    operator = OpenAIManageAudioOperator(
        task_id="t",
        operation="translate",
        file=str(audio),
        model="whisper-1",
        advanced={"response_format": response_format},
    )
    text = "1\n00:00:00,000 --> 00:00:01,000\nHello\n"
    result, script = run(make_hook, operator, httpx.Response(200, text=text))
    assert script.requests[0].url.path == "/v1/audio/translations"
    assert [p.content_type for p in parts(script.requests[0]) if p.filename] == ["audio/mpeg"]
    assert result == text


def test_lists_go_as_repeated_bracket_fields_and_objects_as_json(make_hook: Any, tmp_path: Path) -> None:
    audio = write_wav(tmp_path / "speech.wav")
    advanced = {
        "response_format": "verbose_json",
        "timestamp_granularities": ["word", "segment"],
        "chunking_strategy": {"type": "server_vad", "threshold": 0.5},
    }
    operator = OpenAIManageAudioOperator(task_id="t", file=str(audio), advanced=advanced)
    verbose = {"language": "english", "duration": 0.25, "text": "hi", "segments": []}
    result, script = run(make_hook, operator, ok(verbose))
    sent = fields(script.requests[0])
    assert sent["timestamp_granularities[]"] == ["word", "segment"]
    assert sent["chunking_strategy"] == ['{"type": "server_vad", "threshold": 0.5}']
    assert result == verbose


def test_a_file_from_an_object_storage_uri(make_hook: Any, tmp_path: Path) -> None:
    audio = write_wav(tmp_path / "speech.ogg")
    operator = OpenAIManageAudioOperator(task_id="t", file=audio.as_uri())
    _, script = run(make_hook, operator, ok({"text": "hi"}))
    assert [(p.filename, p.data) for p in parts(script.requests[0]) if p.filename] == [
        ("speech.ogg", audio.read_bytes())
    ]


def test_an_answer_that_is_not_json_is_an_error(make_hook: Any, tmp_path: Path) -> None:
    operator = OpenAIManageAudioOperator(task_id="t", file=str(write_wav(tmp_path / "a.wav")))
    with raises(APIResponseValidationError, match="not valid JSON"):
        run(make_hook, operator, httpx.Response(200, text="<html>proxy</html>"))


def test_rejects_bad_input_before_any_request(make_hook: Any, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav")
    notes = tmp_path / "notes.txt"
    notes.write_text("words")
    cases = [
        ({"operation": "summarize"}, "operation", "must be one of"),
        ({"file": str(tmp_path / "missing.wav")}, "file", "no such file"),
        ({"file": str(notes)}, "file", "unsupported format"),
        ({"file": str(sparse(tmp_path / "long.wav", 25 * 1024 * 1024 + 1))}, "file", "at most 25 MB"),
        ({"file": str(sparse(tmp_path / "empty.wav", 0))}, "file", "empty"),
        ({"operation": "translate", "model": "w", "advanced": {"language": "de"}}, "advanced.language", "not a field"),
        ({"operation": "translate"}, "model", "whisper-1, OpenAI's only translation model, shuts down"),
        ({"operation": "translate", "via": "endpoint"}, "via", "must be one of"),
        ({"operation": "translate", "via": "translations", "text_model": "m"}, "text_model", "does not apply"),
        ({"operation": "translate", "via": "transcribe+text"}, "text_model", "is required with via="),
        ({"operation": "translate", "model": "w", "target_language": "German"}, "target_language", "English only"),
        (
            {"operation": "translate", "text_model": "m", "advanced": {"response_format": "srt"}},
            "advanced.response_format",
            "must be 'json' or 'text' with via=",
        ),
        ({"via": "transcribe+text"}, "via", "does not apply to operation='transcribe'"),
        ({"advanced": {"response_format": "docx"}}, "advanced.response_format", "Input should be"),
        ({"advanced": {"temperature": 3}}, "advanced.temperature", "less than or equal"),
        ({"model": "   "}, "model", "is blank"),
    ]
    for kwargs, argument, message in cases:
        operator = OpenAIManageAudioOperator(task_id="t", **{"file": str(wav), **kwargs})
        script = Script(ok({"text": "hi"}))
        operator.hook = make_hook(script)
        with raises(InvalidArgumentError, match=message) as info:
            operator.execute({})
        assert (info.value.argument, script.attempts) == (argument, 0), kwargs

"""Text to speech: the request built from the arguments, the audio streamed to a file, bad input refused first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion.exceptions import BadRequestError, InvalidArgumentError
from airflow_provider_openai_fusion.operators import OpenAIManageAudioOperator
from tests.unit.helpers import Script, error, raises

AUDIO = b"ID3\x04" + bytes(300_000)


def speak(make_hook: Any, reply: httpx.Response, **kwargs: Any) -> tuple[Any, Script]:
    operator = OpenAIManageAudioOperator(task_id="t", operation="speech", **{"model": "gpt-4o-mini-tts", **kwargs})
    script = Script(reply)
    operator.hook = make_hook(script)
    return operator.execute({}), script


def test_speech_streams_the_audio_to_the_file_with_the_defaults(make_hook: Any, tmp_path: Path) -> None:
    target = tmp_path / "out" / "hello.mp3"
    written, script = speak(make_hook, httpx.Response(200, content=AUDIO), input="Hello there", output_path=str(target))
    (request,) = script.requests
    assert request.url.path == "/v1/audio/speech"
    assert json.loads(request.content) == {
        "model": "gpt-4o-mini-tts",
        "input": "Hello there",
        "voice": "coral",
        "response_format": "mp3",
    }
    assert written == str(target) and target.read_bytes() == AUDIO
    assert [p.name for p in target.parent.iterdir()] == ["hello.mp3"]


def test_speech_takes_every_named_argument_and_a_custom_voice_as_json_text(make_hook: Any, tmp_path: Path) -> None:
    target = tmp_path / "calm.wav"
    _, script = speak(
        make_hook,
        httpx.Response(200, content=b"RIFF" + bytes(40)),
        input="Calm",
        model="tts-1",
        voice='{"id": "voice_1234"}',
        instructions="Slowly.",
        response_format="wav",
        speed="1.5",
        output_path=str(target),
    )
    assert json.loads(script.requests[0].content) == {
        "model": "tts-1",
        "input": "Calm",
        "voice": {"id": "voice_1234"},
        "instructions": "Slowly.",
        "response_format": "wav",
        "speed": 1.5,
    }


def test_a_failed_speech_call_leaves_no_file_and_an_older_one_intact(make_hook: Any, tmp_path: Path) -> None:
    target = tmp_path / "old.mp3"
    target.write_bytes(b"older")
    with raises(BadRequestError, match="bad voice"):
        speak(make_hook, error(400, "bad voice"), input="x", output_path=str(target))
    assert target.read_bytes() == b"older" and [p.name for p in tmp_path.iterdir()] == ["old.mp3"]


@pytest.mark.parametrize(
    ("kwargs", "argument", "reason"),
    [
        ({"output_path": "out.mp3"}, "input", "is required with operation='speech'"),
        ({"input": "hi"}, "output_path", "is required with operation='speech'"),
        ({"input": "hi", "output_path": "out.txt"}, "output_path", "extension '.txt' does not agree"),
        ({"input": "hi", "output_path": "out.mp3", "response_format": "wav"}, "output_path", "response_format='wav'"),
        ({"input": "x" * 4097, "output_path": "o.mp3"}, "input", "at most 4096 characters"),
        ({"input": "hi", "output_path": "o.mp3", "speed": 5}, "speed", "less than or equal to 4"),
        (
            {"input": "hi", "output_path": "o.mp3", "advanced": {"stream_format": "sse"}},
            "advanced.stream_format",
            "'audio'",
        ),
        ({"input": "hi", "output_path": "o.mp3", "file": "a.wav"}, "file", "does not apply to operation='speech'"),
        ({"input": "hi", "output_path": "o.mp3", "voice": "{oops"}, "voice", "is not valid JSON"),
    ],
)
def test_bad_speech_input_fails_before_any_request(
    make_hook: Any, tmp_path: Path, kwargs: dict[str, Any], argument: str, reason: str
) -> None:
    if "output_path" in kwargs:
        kwargs["output_path"] = str(tmp_path / kwargs["output_path"])
    with raises(InvalidArgumentError, match=rf"'{argument}'.*{reason}") as info:
        speak(make_hook, httpx.Response(200, content=AUDIO), **kwargs)
    assert info.value.argument == argument


def test_speech_arguments_do_not_apply_to_transcription(make_hook: Any, tmp_path: Path) -> None:
    operator = OpenAIManageAudioOperator(task_id="t", file=str(tmp_path / "a.wav"), voice="coral")
    script = Script(httpx.Response(200))
    operator.hook = make_hook(script)
    with raises(InvalidArgumentError, match=r"'voice'.*does not apply to operation='transcribe'"):
        operator.execute({})
    assert script.requests == []

"""
Text to speech against the stand-in behind ``prism proxy --errors``: a request OpenAI's spec accepts, for every
format, lands as a file with that format's magic bytes (the stand-in's audio, not OpenAI's voices).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from airflow_provider_openai_fusion.exceptions import BadRequestError
from airflow_provider_openai_fusion.operators import OpenAIManageAudioOperator
from tests.conftest import Stack, connection_json

# The session's stand-in starts in the first test that needs it (up to 120 s).
pytestmark = [pytest.mark.contract, pytest.mark.timeout(300)]
# Prism forwards binary answers re-encoded as UTF-8 text, so only ASCII magic bytes survive the proxy; the audio
# itself is checked against the stand-in directly below.
MAGIC = {"mp3": b"ID3", "opus": b"OggS", "flac": b"fLaC", "wav": b"RIFF"}


@pytest.fixture(autouse=True)
def connection(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_DEFAULT", connection_json(stack.base_url, stack.api_key))


def speak(**kwargs: object) -> str:
    return OpenAIManageAudioOperator(task_id="speak", operation="speech", model="gpt-4o-mini-tts", **kwargs).execute({})


@pytest.mark.parametrize("extension", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_format_is_written_whole_under_its_name(tmp_path: Path, extension: str) -> None:
    target = tmp_path / f"hello.{extension}"
    assert speak(input="Hello from the stand-in.", output_path=str(target)) == str(target)
    audio = target.read_bytes()
    assert len(audio) > 20_000 and audio.startswith(MAGIC.get(extension, b""))
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_the_stand_in_s_wav_is_real_audio_as_long_as_the_text() -> None:
    from starlette.testclient import TestClient

    from dev.standin.app import create_app

    text = "A long text, spoken slowly. " * 40
    client = TestClient(create_app("sk-direct"), headers={"Authorization": "Bearer sk-direct"})
    body = {"model": "gpt-4o-mini-tts", "input": text, "voice": "marin", "response_format": "wav"}
    audio = client.post("/audio/speech", json=body).content
    channels, rate, _, _, bits = struct.unpack("<HIIHH", audio[22:36])
    data_bytes = struct.unpack("<I", audio[40:44])[0]
    assert (channels, rate, bits) == (1, 24_000, 16)
    assert data_bytes == len(audio) - 44
    assert data_bytes / (rate * 2) == pytest.approx(len(text) * 0.05, rel=0.01)


def test_an_unknown_voice_is_openai_s_error_and_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "nothing.mp3"
    with pytest.raises(BadRequestError, match="Invalid voice"):
        speak(input="hi", output_path=str(target), voice="robot")
    assert list(tmp_path.iterdir()) == []

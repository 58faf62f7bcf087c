"""
Images, audio and files through a real Airflow, and through the hook, against the stand-in behind
``prism proxy --errors``: every request and answer has the shape of OpenAI's spec. The image and audio bytes
and the transcripts are the stand-in's own, not what OpenAI's models would produce.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from airflow_provider_openai_fusion.api import files
from airflow_provider_openai_fusion.exceptions import NotFoundError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from tests.conftest import ROOT, AirflowHome, Stack, connection_json

# The session's stand-in starts in the first test that needs it (up to 120 s).
pytestmark = [pytest.mark.contract, pytest.mark.timeout(300)]

DAG_FILE = ROOT / "example_dags" / "images_audio_files.py"


@pytest.fixture
def hook(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> OpenAIFusionHook:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_DEFAULT", connection_json(stack.base_url, stack.api_key))
    return OpenAIFusionHook()


@pytest.mark.airflow
@pytest.mark.timeout(1200)  # airflow_home (up to 120 s) + run_dag (up to 600 s), with slack
def test_example_dag_covers_every_action_and_operation(airflow_home: AirflowHome, stack: Stack) -> None:
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    tasks = airflow_home.run_dag(DAG_FILE, "openai_fusion_images_audio_files", env)
    failed = {label: result.state for label, result in tasks.items() if result.state != "success"}
    assert len(tasks) == 11 and not failed, (failed, airflow_home.last.stdout[-6000:])
    out = airflow_home.home / "output" / "images_audio_files"

    generated = tasks["generate_image"].xcom
    assert generated["paths"] == [str(out / "generated" / "0.png"), str(out / "generated" / "1.png")]
    assert all(Path(path).read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for path in generated["paths"])
    assert generated["usage"]["output_tokens"] > 0 and len(generated["revised_prompts"]) == 2
    edited = tasks["edit_image"].xcom["paths"]
    assert edited == [str(out / "edited" / "0.webp")] and Path(edited[0]).read_bytes()[8:12] == b"WEBP"
    varied = tasks["image_variation"].xcom["paths"]
    assert [urlsplit(uri).scheme for uri in varied] == ["file", "file"]
    assert all(Path(urlsplit(uri).path).read_bytes().startswith(b"\x89PNG") for uri in varied)

    assert tasks["transcribe_audio"].xcom["text"] == "The quick brown fox jumps over the lazy dog."
    translated = tasks["translate_audio"].xcom  # via transcribe+text: two calls, usage summed
    assert translated["text"] == translated["transcript"] == "The quick brown fox jumps over the lazy dog."
    assert translated["models"] == {"transcription": "gpt-transcribe", "translation": "gpt-5.6-luna"}
    assert [call["model"] for call in translated["calls"]] == ["gpt-transcribe", "gpt-5.6-luna"]
    assert translated["usage"]["total_tokens"] == sum(call["usage"]["total_tokens"] for call in translated["calls"])

    uploaded = tasks["upload_file"].xcom
    training = out / "inputs" / "train.jsonl"
    assert uploaded["purpose"] == "fine-tune" and uploaded["bytes"] == training.stat().st_size
    assert uploaded["id"] in {item["id"] for item in tasks["list_files"].xcom}
    assert tasks["retrieve_file"].xcom["filename"] == "train.jsonl"
    assert Path(tasks["retrieve_file_content"].xcom).read_bytes() == training.read_bytes()
    assert tasks["delete_file"].xcom == {"id": uploaded["id"], "object": "file", "deleted": True}
    assert stack.api_key not in airflow_home.last.stdout + airflow_home.last.stderr


@pytest.mark.parametrize(
    ("response_format", "check"),
    [
        ("text", lambda body: body == "The quick brown fox jumps over the lazy dog."),
        ("vtt", lambda body: body.startswith("WEBVTT\n\n00:00:00.000 --> ")),
        ("verbose_json", lambda body: body["segments"][0]["end"] == body["duration"]),
    ],
)
def test_every_audio_response_format_passes_the_contract(
    hook: OpenAIFusionHook, tmp_path: Path, response_format: str, check
) -> None:
    from airflow_provider_openai_fusion.api._base import file_part
    from airflow_provider_openai_fusion.api.audio import transcribe_or_translate

    audio = tmp_path / "tone.wav"
    audio.write_bytes(b"RIFF" + bytes(64))
    fields = {"model": "whisper-1", "response_format": response_format}
    answer = hook.send(transcribe_or_translate("transcribe", fields, file_part("file", audio)))
    assert answer.status_code == 200 and check(answer.body)


def test_file_round_trip_and_unknown_id(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    source = tmp_path / "notes.jsonl"
    source.write_text('{"note": "kept byte for byte"}\n' * 200, encoding="utf-8")
    uploaded = hook.request(files.upload_file(source, "user_data"))
    target = hook.download(files.retrieve_file_content(uploaded["id"]), tmp_path / "out" / "notes.jsonl")
    assert target.read_bytes() == source.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["notes.jsonl"]
    assert hook.request(files.delete_file(uploaded["id"]))["deleted"] is True
    with pytest.raises(NotFoundError, match="No such file"):
        hook.request(files.retrieve_file(uploaded["id"]))

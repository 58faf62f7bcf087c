"""
Images, audio and files: draw, edit and vary images, transcribe and translate speech, and manage files.

The first task writes its own inputs (a short WAV tone and a JSONL training file) under
``$OPENAI_FUSION_OUTPUT_DIR`` (an ``ObjectStoragePath`` URI or a local folder; by default
``file://<system temp folder>/openai-fusion``); the edit and the variation start from the first generated
image. The variations always go to a URI, written through Airflow's ``ObjectStoragePath``.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import wave

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_openai_fusion.operators import (
    OpenAIEditImageOperator,
    OpenAIGenerateImageOperator,
    OpenAIManageAudioOperator,
    OpenAIManageFilesOperator,
)

# Inputs and outputs live under an ObjectStoragePath root that every worker sees (s3://bucket/prefix, gs://...,
# or file:///shared/mount): set OPENAI_FUSION_OUTPUT_DIR to it.
OUT = ObjectStoragePath(os.environ.get("OPENAI_FUSION_OUTPUT_DIR", f"file://{tempfile.gettempdir()}/openai-fusion"))
OUT /= "images_audio_files"
SPEECH = OUT / "inputs" / "speech.wav"
TRAINING = OUT / "inputs" / "train.jsonl"
FIRST_IMAGE = "{{ ti.xcom_pull(task_ids='generate_image')['paths'][0] }}"
UPLOADED_ID = "{{ ti.xcom_pull(task_ids='upload_file')['id'] }}"


@task
def write_inputs() -> dict[str, str]:
    """Write a one-second 440 Hz tone and a three-example chat training file."""
    SPEECH.parent.mkdir(parents=True, exist_ok=True)
    with SPEECH.open("wb") as out, wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(16_000)
        samples = (int(8000 * math.sin(2 * math.pi * 440 * i / 16_000)) for i in range(16_000))
        audio.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
    examples = [
        {"messages": [{"role": "user", "content": f"Say {word}"}, {"role": "assistant", "content": word}]}
        for word in ("one", "two", "three")
    ]
    TRAINING.write_text("".join(json.dumps(example) + "\n" for example in examples), encoding="utf-8")
    return {"speech": str(SPEECH), "training": str(TRAINING)}


with DAG(
    dag_id="openai_fusion_images_audio_files",
    description="Generate, edit and vary images; transcribe and translate audio; upload, list, fetch, delete files",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai", "example"],
) as dag:
    inputs = write_inputs()
    generate = OpenAIGenerateImageOperator(
        task_id="generate_image",
        prompt="A lighthouse on a cliff at dawn, watercolor",
        model="gpt-image-2",
        n=2,
        size="1024x1024",
        output_path=str(OUT / "generated"),
        advanced={"quality": "low"},
    )
    edit = OpenAIEditImageOperator(
        task_id="edit_image",
        operation="edit",
        image=FIRST_IMAGE,
        prompt="Add a red sailing boat",
        model="gpt-image-2",
        output_path=str(OUT / "edited"),
        advanced={"output_format": "webp"},
    )
    # Variations take only dall-e-2 (the operator's default), which OpenAI removed: for compatible servers.
    variation = OpenAIEditImageOperator(
        task_id="image_variation",
        operation="variation",
        image=FIRST_IMAGE,
        output_path=(OUT / "variations").as_uri(),
        advanced={"n": 2, "size": "256x256"},
    )
    transcribe = OpenAIManageAudioOperator(task_id="transcribe_audio", operation="transcribe", file=str(SPEECH))
    # /audio/translations and whisper-1 (also the only model for srt/vtt subtitles) shut down at OpenAI on
    # 2027-02-26: translate by transcribing, then letting a text model translate (two paid calls, one task).
    translate = OpenAIManageAudioOperator(
        task_id="translate_audio",
        operation="translate",
        file=str(SPEECH),
        via="transcribe+text",
        text_model="gpt-5.6-luna",
        target_language="English",
    )
    upload = OpenAIManageFilesOperator(task_id="upload_file", action="upload", file=str(TRAINING), purpose="fine-tune")
    listed = OpenAIManageFilesOperator(task_id="list_files", action="list", purpose="fine-tune", limit=20)
    retrieve = OpenAIManageFilesOperator(task_id="retrieve_file", action="retrieve", file_id=UPLOADED_ID)
    content = OpenAIManageFilesOperator(
        task_id="retrieve_file_content",
        action="retrieve_content",
        file_id=UPLOADED_ID,
        output_path=str(OUT / "downloaded" / "train.jsonl"),
    )
    delete = OpenAIManageFilesOperator(task_id="delete_file", action="delete", file_id=UPLOADED_ID)

    generate >> [edit, variation]
    inputs >> [transcribe, translate, upload]
    upload >> [listed, retrieve, content] >> delete

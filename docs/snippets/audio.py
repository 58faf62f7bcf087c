"""Audio: transcribe a recording, and translate it with a transcription model plus a chat model you name."""

import math
import struct
import tempfile
import wave
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import OpenAIManageAudioOperator

with DAG(dag_id="docs_audio", schedule=None):

    @task
    def recording() -> str:
        """A one-second tone as a WAV file (your own recordings in a real DAG)."""
        path = Path(tempfile.gettempdir()) / "docs_audio" / "meeting.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16_000)
            samples = (int(8_000 * math.sin(2 * math.pi * 440 * n / 16_000)) for n in range(16_000))
            out.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
        return str(path)

    audio = recording()
    transcribe = OpenAIManageAudioOperator(
        task_id="transcribe", operation="transcribe", file=audio, model="gpt-transcribe"
    )
    translate = OpenAIManageAudioOperator(
        task_id="translate",
        operation="translate",
        file=audio,
        via="transcribe+text",  # /audio/translations and whisper-1 shut down at OpenAI on 2027-02-26
        text_model="gpt-5.6-luna",
        target_language="German",
    )

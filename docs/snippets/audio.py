"""Audio and speech: text to speech into a file, then transcribe that file back to text."""

import tempfile
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_openai_fusion.operators import OpenAIManageAudioOperator

OUT = Path(tempfile.gettempdir()) / "docs_audio"

with DAG(dag_id="docs_audio", schedule=None):
    speak = OpenAIManageAudioOperator(
        task_id="speak",
        operation="speech",
        input="Your nightly pipeline finished on time.",
        voice="coral",
        output_path=str(OUT / "announcement.wav"),  # the extension names the format
    )
    transcribe = OpenAIManageAudioOperator(
        task_id="transcribe",
        operation="transcribe",
        file="{{ ti.xcom_pull(task_ids='speak') }}",  # the speech task's XCom is the path it wrote
        model="gpt-transcribe",
    )
    speak >> transcribe

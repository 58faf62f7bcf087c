"""
A tour of every Fusion module, end to end: the main job of the README runs it against the local stand-in.

With ``OPENAI_FUSION_TOUR_LIVE=1`` (set by the main job's ``--live`` mode) only the cheap, non-destructive
tasks are built, so the tour can run against api.openai.com without fine-tuning, deleting or drawing.
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
    OpenAIChatCompletionOperator,
    OpenAICompletionOperator,
    OpenAICustomAPICallOperator,
    OpenAIEditImageOperator,
    OpenAIEditOperator,
    OpenAIEmbeddingsOperator,
    OpenAIGenerateImageOperator,
    OpenAIGetModelsOperator,
    OpenAIManageAudioOperator,
    OpenAIManageFilesOperator,
    OpenAIManageFineTunesOperator,
    OpenAIModerationOperator,
)

LIVE = os.environ.get("OPENAI_FUSION_TOUR_LIVE") == "1"
# Files that one task writes and another reads live under an ObjectStoragePath root that every worker sees
# (s3://bucket/prefix, gs://..., or file:///shared/mount): set OPENAI_FUSION_OUTPUT_DIR to it.
tour_output = (
    ObjectStoragePath(os.environ.get("OPENAI_FUSION_OUTPUT_DIR", f"file://{tempfile.gettempdir()}/openai-fusion"))
    / "tour"
)

with DAG(
    dag_id="openai_fusion_tour",
    description="Every module of Fusion's OpenAI connector as an Airflow task",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai", "example"],
    params={"chat_model": "gpt-5.6-luna"},
) as dag:
    list_models = OpenAIGetModelsOperator(task_id="list_models", action="list", limit=50)
    retrieve_model = OpenAIGetModelsOperator(
        task_id="retrieve_model", action="retrieve", model="{{ params.chat_model }}"
    )
    list_models >> retrieve_model

    # --- Text and data: completion, chat, edit, moderation, embeddings, custom API call (all cheap) ---
    if not LIVE:
        # Legacy /completions, for the compatible servers that still speak it (vLLM, llama.cpp serving the
        # open-weight gpt-oss-20b): OpenAI shut down its last completions model, gpt-3.5-turbo-instruct, on
        # 2026-09-28, so the live run leaves this task out.
        completion = OpenAICompletionOperator(
            task_id="completion",
            model="gpt-oss-20b",
            prompt="Write a tagline for an Airflow provider:",
            temperature=0.7,
            advanced={"max_tokens": 20},
        )
    chat = OpenAIChatCompletionOperator(
        task_id="chat",
        model="{{ params.chat_model }}",
        messages=[
            {"role": "developer", "content": "Answer in one short sentence."},
            {"role": "user", "content": "What does Apache Airflow schedule?", "name": "tour_user"},
        ],
        advanced={"max_completion_tokens": 60},
    )
    edit = OpenAIEditOperator(
        task_id="edit",
        model="{{ params.chat_model }}",
        instruction="Fix the spelling mistakes.",
        input="Airflow schedlues data pipelnes.",
        advanced={"max_completion_tokens": 60},
    )
    moderate_answer = OpenAIModerationOperator(
        task_id="moderate_answer",
        input="{{ ti.xcom_pull(task_ids='chat')['choices'][0]['message']['content'] }}",
        model="omni-moderation-latest",
    )
    embed = OpenAIEmbeddingsOperator(
        task_id="embed",
        model="text-embedding-3-small",
        input=["Airflow schedules pipelines.", "OpenAI serves models.", "Fusion automates work."],
        dimensions=64,
        limit=10,
    )
    custom_call = OpenAICustomAPICallOperator(
        task_id="custom_call", url="/models/{{ params.chat_model }}", method="GET"
    )
    chat >> moderate_answer

    # --- Fine-tuning: upload a training file, train and wait in the triggerer, read events, delete the model ---
    if not LIVE:

        @task
        def ft_training_file() -> str:
            """Ten chat examples as JSON lines, the least fine-tuning accepts."""
            path = tour_output / "tour_training.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w") as out:
                for n in range(10):
                    messages = [{"role": "user", "content": f"Say {n}."}, {"role": "assistant", "content": str(n)}]
                    out.write(json.dumps({"messages": messages}) + "\n")
            return str(path)

        ft_upload = OpenAIManageFilesOperator(
            task_id="ft_upload", action="upload", file=ft_training_file(), purpose="fine-tune"
        )
        ft_create_and_wait = OpenAIManageFineTunesOperator(
            task_id="ft_create_and_wait",
            action="create",
            model="{{ params.chat_model }}",
            training_file="{{ ti.xcom_pull(task_ids='ft_upload')['id'] }}",
            suffix="tour",
            wait_for_completion=True,
            deferrable=True,
            poll_interval=2,
        )
        ft_events = OpenAIManageFineTunesOperator(
            task_id="ft_events", action="list_events", job_id="{{ ti.xcom_pull(task_ids='ft_create_and_wait')['id'] }}"
        )
        ft_jobs = OpenAIManageFineTunesOperator(task_id="ft_jobs", action="list", limit=5)
        ft_delete_model = OpenAIManageFineTunesOperator(
            task_id="ft_delete_model",
            action="delete_model",
            model="{{ ti.xcom_pull(task_ids='ft_create_and_wait')['fine_tuned_model'] }}",
        )
        ft_upload >> ft_create_and_wait >> [ft_events, ft_jobs] >> ft_delete_model

    # --- Images, audio and files: draw, edit and vary (not live); transcribe, translate; upload, list, fetch ---
    @task
    def media_inputs() -> dict[str, str]:
        """A one-second WAV tone and a one-line JSON-lines file, the inputs of the audio and files tasks."""
        tour_output.mkdir(parents=True, exist_ok=True)
        speech, notes = tour_output / "speech.wav", tour_output / "notes.jsonl"
        with speech.open("wb") as out, wave.open(out, "wb") as audio:
            audio.setnchannels(1)
            audio.setsampwidth(2)
            audio.setframerate(16_000)
            audio.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 5.8))) for i in range(16_000)))
        notes.write_text(json.dumps({"note": "uploaded by the tour"}) + "\n")
        return {"speech": str(speech), "notes": str(notes)}

    media = media_inputs()
    transcribe_audio = OpenAIManageAudioOperator(
        task_id="transcribe_audio", operation="transcribe", file=media["speech"]
    )
    translate_audio = OpenAIManageAudioOperator(  # two paid calls: transcribe, then the text model translates
        task_id="translate_audio",
        operation="translate",
        file=media["speech"],
        text_model="{{ params.chat_model }}",
        target_language="German",
        advanced={"response_format": "text"},
    )
    upload_file = OpenAIManageFilesOperator(
        task_id="upload_file", action="upload", file=media["notes"], purpose="user_data"
    )
    uploaded_id = "{{ ti.xcom_pull(task_ids='upload_file')['id'] }}"
    list_files = OpenAIManageFilesOperator(task_id="list_files", action="list", limit=20)
    retrieve_file = OpenAIManageFilesOperator(task_id="retrieve_file", action="retrieve", file_id=uploaded_id)
    retrieve_file_content = OpenAIManageFilesOperator(
        task_id="retrieve_file_content",
        action="retrieve_content",
        file_id=uploaded_id,
        output_path=str(tour_output / "notes_downloaded.jsonl"),
    )
    upload_file >> [list_files, retrieve_file, retrieve_file_content]
    if not LIVE:
        delete_file = OpenAIManageFilesOperator(task_id="delete_file", action="delete", file_id=uploaded_id)
        [list_files, retrieve_file, retrieve_file_content] >> delete_file
        generate_image = OpenAIGenerateImageOperator(
            task_id="generate_image",
            prompt="A paper airplane over a data pipeline, flat illustration",
            model="gpt-image-2",
            size="1024x1024",
            output_path=str(tour_output / "generated"),
            advanced={"quality": "low"},
        )
        first_image = "{{ ti.xcom_pull(task_ids='generate_image')['paths'][0] }}"
        edit_image = OpenAIEditImageOperator(
            task_id="edit_image",
            operation="edit",
            image=first_image,
            prompt="Make the airplane red",
            model="gpt-image-2",
            output_path=str(tour_output / "edited"),
        )
        # Variations take only dall-e-2, which OpenAI removed: this task is for compatible servers (the operator
        # sends dall-e-2 by default).
        image_variation = OpenAIEditImageOperator(
            task_id="image_variation",
            operation="variation",
            image=first_image,
            output_path=str(tour_output / "variations"),
            advanced={"size": "256x256"},
        )
        generate_image >> [edit_image, image_variation]

"""OpenLineage facets of the operators: the datasets each task read and wrote, the run facet, nothing secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from openlineage.client.serde import Serde

from airflow_provider_openai_fusion.exceptions import BadRequestError
from airflow_provider_openai_fusion.lineage import openai_namespace, path_dataset
from airflow_provider_openai_fusion.operators import (
    OpenAIChatCompletionOperator,
    OpenAIManageFilesOperator,
    OpenAIManageFineTunesOperator,
    OpenAIResponseOperator,
)
from tests.conftest import ROOT, SENTINEL_KEY
from tests.unit.fine_tuning_fake import context
from tests.unit.helpers import Script, error, ok

NAMESPACE = "openai://api.test"
FILE_5 = {"id": "file-5", "object": "file", "bytes": 3, "created_at": 1, "filename": "a.jsonl", "purpose": "batch"}


@pytest.fixture(autouse=True)
def openlineage_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Configure an OpenLineage transport, as a deployment does (its provider reads it afresh under pytest)."""
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", '{"type": "console"}')


PROMPT = "SECRET-PROMPT"


def names(datasets: list[Any]) -> list[tuple[str, str]]:
    return [(dataset.namespace, dataset.name) for dataset in datasets]


def serialized(lineage: Any) -> str:
    return json.dumps([Serde.to_dict(d) for d in lineage.inputs + lineage.outputs]) + json.dumps(
        {name: Serde.to_dict(facet) for name, facet in lineage.run_facets.items()}
    )


@pytest.mark.parametrize(
    ("base_url", "namespace"),
    [
        ("https://api.openai.com/v1", "openai://api.openai.com"),
        ("https://API.OpenAI.com:443/v1", "openai://api.openai.com"),
        ("http://127.0.0.1:4010", "openai://127.0.0.1:4010"),
        ("https://example.openai.azure.com/openai/v1", "openai://example.openai.azure.com"),
    ],
)
def test_openai_objects_are_named_under_the_connections_host(base_url: str, namespace: str) -> None:
    assert openai_namespace(base_url) == namespace


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/data/in.jsonl", ("file", "/data/in.jsonl")),
        ("file:///data/in.jsonl", ("file", "/data/in.jsonl")),
        ("file:/data/in.jsonl", ("file", "/data/in.jsonl")),
        ("s3://bucket/batches/in.jsonl", ("s3://bucket", "batches/in.jsonl")),
        ("gs://b/x", ("gs://b", "x")),
    ],
)
def test_files_are_named_after_openlineage_conventions(path: str, expected: tuple[str, str]) -> None:
    dataset = path_dataset(path)
    assert (dataset.namespace, dataset.name) == expected


def test_a_chat_task_has_no_datasets_and_a_run_facet_without_content(make_hook: Any) -> None:
    answer = {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "model": "gpt-5.6-luna",
        "service_tier": "flex",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "SECRET-ANSWER"}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
    }
    task = OpenAIChatCompletionOperator(
        task_id="chat", model="gpt-5.6-luna", messages=[{"role": "user", "content": PROMPT}]
    )
    task.hook = make_hook(Script(httpx.Response(200, json=answer, headers={"x-request-id": "req_9"})))
    task.execute({})
    lineage = task.get_openlineage_facets_on_complete(None)
    assert lineage.inputs == [] and lineage.outputs == []
    facet = Serde.to_dict(lineage.run_facets["openai_fusion"])
    assert {k: v for k, v in facet.items() if not k.startswith("_")} == {
        "models": ["gpt-5.6-luna"],
        "service_tier": "flex",
        "calls": 1,
        "request_ids": ["req_9"],
        "response_ids": ["chatcmpl-9"],
        "usage": {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9},
    }
    assert facet["_schemaURL"].endswith("docs/openlineage/OpenAIFusionRunFacet.json")
    text = serialized(lineage)
    assert PROMPT not in text and "SECRET-ANSWER" not in text and SENTINEL_KEY not in text


def test_an_upload_reads_the_local_file_and_makes_an_openai_file(make_hook: Any, tmp_path: Path) -> None:
    source = tmp_path / "train.jsonl"
    source.write_text('{"messages": []}\n')
    created = {"id": "file-77", "object": "file", "bytes": 17, "created_at": 1, "filename": "train.jsonl"}
    task = OpenAIManageFilesOperator(task_id="up", action="upload", file=str(source), purpose="fine-tune")
    task.hook = make_hook(Script(ok(created | {"purpose": "fine-tune", "status": "processed"})))
    task.execute({})
    lineage = task.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [("file", str(source))]
    assert names(lineage.outputs) == [(NAMESPACE, "files/file-77")]


def test_a_download_reads_the_openai_file_and_writes_the_output_path(make_hook: Any, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    task = OpenAIManageFilesOperator(
        task_id="get", action="retrieve_content", file_id="file-5", output_path=str(target)
    )
    task.hook = make_hook(Script(ok(FILE_5), httpx.Response(200, content=b"abc")))
    task.execute({})
    lineage = task.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [(NAMESPACE, "files/file-5")]
    assert names(lineage.outputs) == [("file", str(target))]


def job(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "ftjob-1",
        "object": "fine_tuning.job",
        "model": "gpt-4.1-nano-2025-04-14",
        "created_at": 1,
        "status": status,
        "training_file": "file-train",
        "validation_file": None,
        "fine_tuned_model": None,
        "hyperparameters": {},
        "result_files": [],
        "seed": 1,
        "organization_id": "org",
        "trained_tokens": None,
        "error": None,
        "finished_at": None,
    } | fields


def test_a_finished_fine_tuning_job_links_its_training_file_to_the_model_it_made(make_hook: Any) -> None:
    task = OpenAIManageFineTunesOperator(task_id="ft", action="get", job_id="ftjob-1")
    task.hook = make_hook(Script(ok(job("succeeded", fine_tuned_model="ft:gpt-4.1-nano:org::abc"))))
    task.execute(context())
    lineage = task.get_openlineage_facets_on_complete(None)
    assert names(lineage.outputs) == [(NAMESPACE, "models/ft:gpt-4.1-nano:org::abc")]


def test_a_response_with_file_search_reads_the_vector_store(make_hook: Any) -> None:
    answer = {"id": "resp_1", "object": "response", "created_at": 1, "model": "gpt-5.6-luna", "status": "completed"}
    task = OpenAIResponseOperator(
        task_id="ask",
        model="gpt-5.6-luna",
        input=PROMPT,
        tools=[{"type": "file_search", "vector_store_ids": ["vs_docs"]}],
        previous_response_id="resp_0",
    )
    task.hook = make_hook(Script(ok(answer | {"output": [], "usage": {"input_tokens": 1, "output_tokens": 1}})))
    task.execute({})
    lineage = task.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [(NAMESPACE, "responses/resp_0"), (NAMESPACE, "vector_stores/vs_docs")]
    assert PROMPT not in serialized(lineage)


def test_a_failed_try_reports_what_it_read_and_the_failed_call_but_no_output(make_hook: Any, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    task = OpenAIManageFilesOperator(
        task_id="get", action="retrieve_content", file_id="file-5", output_path=str(target)
    )
    task.hook = make_hook(Script(ok(FILE_5), error(400, "no such content")))
    with pytest.raises(BadRequestError):
        task.execute({})
    lineage = task.get_openlineage_facets_on_failure(None)
    assert names(lineage.inputs) == [(NAMESPACE, "files/file-5")]
    assert lineage.outputs == []
    assert lineage.run_facets["openai_fusion"].calls == 2


def test_each_try_starts_with_a_fresh_hook_so_no_call_of_an_earlier_try_is_counted(make_hook: Any) -> None:
    task = OpenAIManageFineTunesOperator(task_id="ft", action="get", job_id="ftjob-1")
    task.hook = make_hook(Script(ok(job("running"))))
    task.execute(context())
    assert task.hook.calls.calls == 1
    task.pre_execute({})
    assert "hook" not in task.__dict__
    lineage = task.get_openlineage_facets_on_complete(None)
    assert lineage.run_facets == {}


def test_importing_the_operators_imports_neither_lineage_nor_telemetry() -> None:
    code = (
        "import sys; import airflow_provider_openai_fusion.operators.chat;"
        " import airflow_provider_openai_fusion.operators.batches;"
        " print(sorted(m for m in ('openlineage', 'airflow_provider_openai_fusion.lineage',"
        " 'airflow_provider_openai_fusion._http.telemetry') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_lineage_module_imports_without_openlineage_installed() -> None:
    code = (
        "import sys; sys.modules['openlineage'] = None; sys.modules['openlineage.client'] = None;"
        " import airflow_provider_openai_fusion.lineage as lineage;"
        " print(lineage.openai_namespace('https://api.openai.com/v1'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "openai://api.openai.com"


def test_a_resumed_try_reports_the_job_it_waited_for_and_what_it_made(make_hook: Any) -> None:
    task = OpenAIManageFineTunesOperator(
        task_id="ft", action="create", model="gpt-5.6-luna", training_file="file-train", wait_for_completion=True
    )
    script = Script(ok(job("succeeded", fine_tuned_model="ft:gpt-5.6-luna:org::abc")))
    task.hook = make_hook(script)
    event = {"status": "succeeded", "job_id": "ftjob-1"}
    result = task.resume_execution("execute_complete", {"event": event}, context())
    assert result["fine_tuned_model"] == "ft:gpt-5.6-luna:org::abc"
    lineage = task.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [(NAMESPACE, "files/file-train")]
    assert set(names(lineage.outputs)) == {
        (NAMESPACE, "fine_tuning/jobs/ftjob-1"),
        (NAMESPACE, "models/ft:gpt-5.6-luna:org::abc"),
    }


def test_a_sensor_reports_the_training_file_and_the_model_of_the_job_it_watched(make_hook: Any) -> None:
    from airflow_provider_openai_fusion.sensors import OpenAIFineTuningJobSensor
    from tests.unit.fine_tuning_fake import FakeFineTuningAPI

    api = FakeFineTuningAPI()
    api.add_job()
    sensor = OpenAIFineTuningJobSensor(task_id="wait", job_id="ftjob-1", poke_interval=0, timeout=5)
    sensor.hook = make_hook(api)
    job = sensor.execute(context())
    lineage = sensor.get_openlineage_facets_on_complete(None)
    assert (NAMESPACE, f"models/{job['fine_tuned_model']}") in names(lineage.outputs)
    assert (NAMESPACE, f"files/{job['training_file']}") in names(lineage.inputs)
    assert lineage.run_facets["openai_fusion"].calls >= 1

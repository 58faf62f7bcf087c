"""
Fine-tuning against the stand-in behind ``prism proxy --errors``: the example DAG and each job outcome send and
accept what OpenAI's spec describes. The outcomes and their timing are the stand-in's scripted behaviour, not
OpenAI's (which stopped accepting new jobs for most models; see docs/models.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion.api import files, fine_tuning, models
from airflow_provider_openai_fusion.exceptions import BadRequestError, FineTuningJobError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.sensors import OpenAIFineTuningJobSensor
from tests.conftest import ROOT, AirflowHome, Stack, connection_json
from tests.unit.fine_tuning_fake import context

# The session's stand-in starts in the first test that needs it (up to 120 s).
pytestmark = [pytest.mark.contract, pytest.mark.timeout(300)]


@pytest.fixture
def hook(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIFusionHook]:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_DEFAULT", connection_json(stack.base_url, stack.api_key))
    instance = OpenAIFusionHook()
    yield instance
    instance.close()


def upload(hook: OpenAIFusionHook, tmp_path: Path, examples: int) -> str:
    path = tmp_path / "train.jsonl"
    lines = [
        json.dumps({"messages": [{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": f"a{n}"}]})
        for n in range(examples)
    ]
    path.write_text("\n".join(lines) + "\n")
    return hook.request(files.upload_file(path, "fine-tune"))["id"]


def wait(job_id: str, **kwargs: Any) -> dict[str, Any]:
    sensor = OpenAIFineTuningJobSensor(task_id="wait", job_id=job_id, poke_interval=0.2, timeout=30, **kwargs)
    return sensor.execute(context())


@pytest.mark.airflow
@pytest.mark.timeout(1200)  # airflow_home (up to 120 s) + run_dag (up to 600 s), with slack
def test_the_fine_tuning_example_dag_runs_green(airflow_home: AirflowHome, stack: Stack) -> None:
    env = {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}
    tasks = airflow_home.run_dag(ROOT / "example_dags" / "fine_tuning.py", "openai_fusion_fine_tuning", env)
    output = airflow_home.last.stdout + airflow_home.last.stderr
    assert {label: r.state for label, r in tasks.items()} == dict.fromkeys(tasks, "success"), output[-4000:]
    assert len(tasks) == 7
    model = tasks["wait_for_job"].xcom["fine_tuned_model"]
    assert model.startswith("ft:gpt-oss-20b:") and ":airflow-faq:" in model
    assert tasks["create_job"].xcom["metadata"]["airflow_task_id"] == "create_job"
    assert tasks["ask_the_model"].xcom["model"] == model
    events = tasks["job_events"].xcom
    assert events[0]["message"].startswith("Validating training file")
    assert events[-1]["message"] == "The job has successfully completed"
    assert tasks["delete_model"].xcom == {"id": model, "object": "model", "deleted": True}
    assert "Fine-tuning job" in output and "[info] Step 1/3: training loss=" in output
    assert stack.api_key not in output


def test_a_job_succeeds_registers_its_model_and_the_model_can_be_deleted(
    hook: OpenAIFusionHook, tmp_path: Path
) -> None:
    file_id = upload(hook, tmp_path, 10)
    job = hook.request(fine_tuning.create_job({"model": "gpt-4o-mini", "training_file": file_id, "suffix": "ok"}))
    assert job["status"] == "validating_files"
    done = wait(job["id"])
    assert done["status"] == "succeeded" and done["fine_tuned_model"] in {
        m["id"] for m in hook.paginate(models.list_models())
    }
    assert hook.request(models.delete_model(done["fine_tuned_model"]))["deleted"] is True
    assert done["fine_tuned_model"] not in {m["id"] for m in hook.paginate(models.list_models())}


def test_a_bad_training_file_fails_the_job_with_code_message_and_param(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    job = hook.request(fine_tuning.create_job({"model": "gpt-4o-mini", "training_file": upload(hook, tmp_path, 3)}))
    with pytest.raises(FineTuningJobError, match="at least 10 examples") as info:
        wait(job["id"])
    assert (info.value.code, info.value.param) == ("invalid_n_examples", "training_file")


def test_a_failing_training_run_and_a_cancelled_job(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    file_id = upload(hook, tmp_path, 10)
    failing = hook.request(fine_tuning.create_job({"model": "gpt-4o-mini", "training_file": file_id, "suffix": "fail"}))
    with pytest.raises(FineTuningJobError, match="training_failed"):
        wait(failing["id"])
    job = hook.request(fine_tuning.create_job({"model": "gpt-4o-mini", "training_file": file_id}))
    assert hook.request(fine_tuning.cancel_job(job["id"]))["status"] == "cancelled"
    with pytest.raises(FineTuningJobError, match="cancelled"):
        wait(job["id"])
    with pytest.raises(BadRequestError, match="already been cancelled"):
        hook.request(fine_tuning.cancel_job(job["id"]))


def test_events_page_backwards_and_jobs_filter_by_metadata(hook: OpenAIFusionHook, tmp_path: Path) -> None:
    file_id = upload(hook, tmp_path, 10)
    tags = {"airflow_dag_id": "d", "airflow_run_id": f"manual__2026-01-01T00:00:00+00:00:{time.time()}"}
    job = hook.request(fine_tuning.create_job({"model": "gpt-4o-mini", "training_file": file_id, "metadata": tags}))
    hook.request(
        fine_tuning.create_job({"model": "gpt-4o-mini", "training_file": file_id, "metadata": {"airflow_dag_id": "d"}})
    )
    assert [j["id"] for j in hook.paginate(fine_tuning.list_jobs(tags))] == [job["id"]]
    wait(job["id"])
    every = hook.paginate(fine_tuning.list_events(job["id"]))
    newest = hook.paginate(fine_tuning.list_events(job["id"]), 3)
    older = hook.paginate(fine_tuning.list_events(job["id"], newest[-1]["id"]))
    assert len(every) == 8 and newest + older == every
    assert [e["type"] for e in every].count("metrics") == 3 and all("train_loss" in e["data"] for e in every[2:5])

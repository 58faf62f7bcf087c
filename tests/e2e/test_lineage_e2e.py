"""
OpenLineage events of real DAG runs (``airflow dags test`` with the OpenLineage provider's file transport), against
the stand-in behind Prism: the datasets and the run facet per task, and no key or prompt in any event.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, AirflowHome, Stack, connection_json

# The stand-in (up to 120 s), db migrate (up to 120 s) and a DAG run through `airflow dags test` (up to 600 s).
pytestmark = [pytest.mark.contract, pytest.mark.airflow, pytest.mark.timeout(1200)]

PROMPTS = ("What does Apache Airflow schedule?", "Write a tagline for an Airflow provider:", "I was charged twice")


def run_with_lineage(airflow_home: AirflowHome, stack: Stack, tmp_path: Path, dag_file: str, dag_id: str) -> Any:
    events = tmp_path / f"{dag_id}.jsonl"
    env = {
        "AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "lineage-test",
        "OPENAI_FUSION_OUTPUT_DIR": (tmp_path / "out").as_uri(),
        "OPENAI_FUSION_DOCS_DIR": str(tmp_path / "handbook"),
    }
    tasks = airflow_home.run_dag(ROOT / "example_dags" / dag_file, dag_id, env)
    failed = {label: r.state for label, r in tasks.items() if r.state not in ("success", "skipped")}
    assert tasks and not failed, (failed, airflow_home.last.stdout[-3000:], airflow_home.last.stderr[-3000:])
    text = events.read_text()
    assert stack.api_key not in text
    for prompt in PROMPTS:
        assert prompt not in text
    completed: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        event = json.loads(line)
        if event.get("eventType") == "COMPLETE" and "." in event["job"]["name"]:
            completed[event["job"]["name"].split(".", 1)[1]] = event
    return completed, stack.base_url


def datasets(event: dict[str, Any], side: str) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in event.get(side) or []}


def namespace(base_url: str) -> str:
    from airflow_provider_openai_fusion.lineage import openai_namespace

    return openai_namespace(base_url)


def test_the_tour_shows_files_models_and_calls(airflow_home: AirflowHome, stack: Stack, tmp_path: Path) -> None:
    events, base_url = run_with_lineage(airflow_home, stack, tmp_path, "openai_fusion_tour.py", "openai_fusion_tour")
    ns = namespace(base_url)
    chat = events["chat"]["run"]["facets"]["openai_fusion"]
    assert chat["calls"] == 1 and chat["models"] and chat["usage"]["total_tokens"] > 0
    assert "cost_usd" in chat
    assert chat["response_ids"] and chat["request_ids"]
    upload = events["upload_file"]
    assert len(datasets(upload, "inputs")) == 1 and next(iter(datasets(upload, "inputs")))[0] == "file"
    (made,) = datasets(upload, "outputs")
    assert made[0] == ns and made[1].startswith("files/")
    assert (ns, made[1]) in datasets(events["retrieve_file_content"], "inputs")
    ft = events["ft_create_and_wait"]
    assert any(name.startswith("files/") for _, name in datasets(ft, "inputs"))
    # The try that resumes after deferring re-reads the job: its training file is the input, its model the output.
    assert any(name.startswith("models/ft:") for _, name in datasets(ft, "outputs"))


def test_the_batch_example_links_its_batch_to_the_results_file(
    airflow_home: AirflowHome, stack: Stack, tmp_path: Path
) -> None:
    events, base_url = run_with_lineage(
        airflow_home, stack, tmp_path, "batch_nightly_classification.py", "openai_fusion_batch_nightly_classification"
    )
    ns = namespace(base_url)
    outputs = datasets(events["classify"], "outputs")
    assert any(namespace_ == "file" and name.endswith("classified.jsonl") for namespace_, name in outputs), outputs
    assert any(namespace_ == ns and name.startswith("batches/") for namespace_, name in outputs), outputs
    # The try resumed after deferring (in its own process, as in production) re-reads the batch and downloads the
    # results: the batch is reported as its output all the same.
    assert events["classify"]["run"]["facets"]["openai_fusion"]["calls"] >= 2


def test_the_vector_store_example_shows_which_files_fed_the_store(
    airflow_home: AirflowHome, stack: Stack, tmp_path: Path
) -> None:
    events, base_url = run_with_lineage(
        airflow_home, stack, tmp_path, "vector_store_nightly_sync.py", "openai_fusion_vector_store_nightly_sync"
    )
    ns = namespace(base_url)
    sync = events["sync_handbook"]
    assert any(namespace_ == "file" for namespace_, _ in datasets(sync, "inputs"))
    # A sync that changed the store reports it as an output; one that found it current (an earlier test of this
    # session synced the same folder) only read it.
    touched = datasets(sync, "outputs") | datasets(sync, "inputs")
    stores = {name for namespace_, name in touched if name.startswith("vector_stores/")}
    assert len(stores) == 1
    assert (ns, next(iter(stores))) in datasets(events["answer_with_file_search"], "inputs")

"""A DAG file that imports one operator pays for that operator's module only: no other operator, no models."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

OPERATORS = {
    "OpenAIGetModelsOperator": "models",
    "OpenAIChatCompletionOperator": "text",
    "OpenAIEmbeddingsOperator": "embeddings",
    "OpenAICustomAPICallOperator": "custom",
    "OpenAIGenerateImageOperator": "images",
    "OpenAIManageAudioOperator": "audio",
    "OpenAIManageFilesOperator": "files",
    "OpenAIManageFineTunesOperator": "fine_tuning",
}


def _modules_after_import(statement: str) -> list[str]:
    script = f"import json, sys\nimport airflow.sdk\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return [m for m in json.loads(result.stdout.strip().splitlines()[-1]) if m.startswith("airflow_provider_openai")]


@pytest.mark.parametrize(("name", "module"), OPERATORS.items())
def test_importing_one_operator_loads_only_its_module(name: str, module: str) -> None:
    loaded = _modules_after_import(f"from airflow_provider_openai_fusion.operators import {name}")
    operator_modules = {m for m in loaded if m.startswith("airflow_provider_openai_fusion.operators.")}
    assert operator_modules <= {
        f"airflow_provider_openai_fusion.operators.{module}",
        "airflow_provider_openai_fusion.operators._base",
    }, operator_modules
    heavy = [m for m in loaded if ".models." in m or m.endswith("._transport")]
    assert not heavy, f"{name} imports {heavy} at parse time"


def test_importing_the_sensor_does_not_load_the_trigger_or_the_operators() -> None:
    loaded = _modules_after_import("from airflow_provider_openai_fusion.sensors import OpenAIFineTuningJobSensor")
    assert "airflow_provider_openai_fusion.sensors.fine_tuning" in loaded
    assert not [m for m in loaded if m.startswith("airflow_provider_openai_fusion.triggers.") or ".models." in m]

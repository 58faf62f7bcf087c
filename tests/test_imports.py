"""A DAG file that imports one operator pays for that operator's module only: no other operator, no API schemas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_provider_openai_fusion.areas import AREAS

PACKAGE = "airflow_provider_openai_fusion"
OPERATORS = {cls: area.name for area in AREAS for cls in area.operators}
SENSORS = {cls: area.name for area in AREAS for cls in area.sensors}
SHARED_OPERATOR_MODULES = {f"{PACKAGE}.operators._base", f"{PACKAGE}.operators._io"}
# Loaded only inside ``execute``: the HTTP client, the pydantic schemas, the wait loop, the hook.
HEAVY_PREFIXES = (f"{PACKAGE}._http", f"{PACKAGE}.api", f"{PACKAGE}._waiting", f"{PACKAGE}.hooks")


def _modules_after_import(statement: str) -> list[str]:
    script = f"import json, sys\nimport airflow.sdk\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return [m for m in json.loads(result.stdout.strip().splitlines()[-1]) if m.startswith("airflow_provider_openai")]


@pytest.mark.parametrize(("name", "module"), OPERATORS.items())
def test_importing_one_operator_loads_only_its_module(name: str, module: str) -> None:
    loaded = _modules_after_import(f"from {PACKAGE}.operators import {name}")
    operator_modules = {m for m in loaded if m.startswith(f"{PACKAGE}.operators.")}
    assert operator_modules <= {f"{PACKAGE}.operators.{module}", *SHARED_OPERATOR_MODULES}, operator_modules
    assert f"{PACKAGE}.operators.{module}" in loaded
    heavy = [m for m in loaded if m.startswith(HEAVY_PREFIXES)]
    assert not heavy, f"{name} imports {heavy} at parse time"


@pytest.mark.parametrize(("name", "module"), SENSORS.items())
def test_importing_a_sensor_does_not_load_its_trigger_or_the_operators(name: str, module: str) -> None:
    loaded = _modules_after_import(f"from {PACKAGE}.sensors import {name}")
    assert f"{PACKAGE}.sensors.{module}" in loaded
    assert not [m for m in loaded if m.startswith((f"{PACKAGE}.triggers.", f"{PACKAGE}.operators."))], loaded
    assert not [m for m in loaded if m.startswith(HEAVY_PREFIXES)], loaded


def test_every_area_row_names_classes_that_exist() -> None:
    import importlib

    for area in AREAS:
        for layer in ("operators", "sensors", "triggers"):
            for cls in getattr(area, layer):
                module = importlib.import_module(f"{PACKAGE}.{layer}.{area.name}")
                assert isinstance(getattr(module, cls), type), f"{layer}.{area.name}.{cls}"


def test_the_webhook_asset_helper_and_the_plugin_stay_cheap() -> None:
    script = (
        "import json, sys\nimport airflow.sdk\n"
        f"from {PACKAGE} import openai_webhook_asset\nopenai_webhook_asset('batch.completed')\n"
        f"import {PACKAGE}.webhooks.plugin\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    ours = {m for m in loaded if m.startswith(PACKAGE)}
    assert not [m for m in ours if m.startswith((*HEAVY_PREFIXES, f"{PACKAGE}.operators"))], ours
    assert f"{PACKAGE}.webhooks.receiver" not in ours and "fastapi" not in loaded

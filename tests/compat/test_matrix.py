"""
The compatibility matrix: the built wheel in a fresh venv per Airflow release and Python version (see ``matrix.py``).

Each cell installs the wheel and ``apache-airflow==X`` with uv into ``build/compat/<cell>/venv``, then, with that
venv's Python and CLI only, from a folder outside the repository (so the checkout cannot shadow the wheel):
imports every module of the installed package and finds ``get_provider_info`` through the
``apache_airflow_provider`` entry point; checks ``airflow providers list``, ``airflow providers hooks`` and
``airflow plugins`` (the webhook receiver), records a webhook event into the cell's database with the receiver's
recorder (recorded, repeated, asset unused); and runs
the tour DAG with ``airflow dags test`` against the stand-in behind Prism (which runs from the repository's venv).
Each cell is bounded in time and writes its row of the compatibility table (docs/install.md) to
``build/compat/results/<cell>.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion import __version__
from tests.compat.conftest import UV, Deadline, Dists, uv_env
from tests.compat.matrix import CELLS, Cell
from tests.conftest import ROOT, Stack

# A test waits for the build (up to 300 s), the stand-in (up to 120 s) and its cell, queued behind the cells before
# it (CELLS_AT_ONCE at a time, each up to CELL_SECONDS).
pytestmark = [pytest.mark.compat, pytest.mark.contract, pytest.mark.airflow, pytest.mark.timeout(2700)]

CELL_SECONDS = 600  # about four times what a cell takes on a quiet 2-core machine
CELLS_AT_ONCE = 2  # the machine's cores: most of a cell is one busy Python process
DAG_ID = "openai_fusion_tour"
PACKAGE = "airflow_provider_openai_fusion"
DISTRIBUTION = "airflow-provider-openai-fusion"
CELLS_DIR = ROOT / "build" / "compat"

# Run inside the cell: what got installed, and every module of the package imported from it.
INSTALLED = r"""
import importlib, importlib.metadata, json, pkgutil, platform
import airflow
import airflow_provider_openai_fusion as package

ours = [
    e for e in importlib.metadata.entry_points(group="apache_airflow_provider")
    if e.value.startswith("airflow_provider_openai_fusion.")
]
(entry_point,) = ours
info = entry_point.load()()
modules = sorted(m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + "."))
for name in modules:
    importlib.import_module(name)
exported = {}
for sub in ("operators", "sensors", "triggers"):
    subpackage = importlib.import_module(f"{package.__name__}.{sub}")
    exported[sub] = {name: getattr(subpackage, name).__module__ for name in subpackage.__all__}
for dotted in [c["hook-class-name"] for c in info["connection-types"]] + info.get("extra-links", []):
    module, _, name = dotted.rpartition(".")
    getattr(importlib.import_module(module), name)
from airflow_provider_openai_fusion import openai_webhook_asset
from airflow_provider_openai_fusion.webhooks.plugin import OpenAIFusionWebhooksPlugin
webhooks = {
    "asset": openai_webhook_asset("batch.completed").uri,
    "apps": [app["url_prefix"] for app in OpenAIFusionWebhooksPlugin.fastapi_apps],
    "plugin_entry_points": [
        e.value for e in importlib.metadata.entry_points(group="airflow.plugins") if "openai_fusion" in e.value
    ],
}
distribution = importlib.metadata.distribution("airflow-provider-openai-fusion")
print(json.dumps({
    "python": platform.python_version(),
    "airflow": airflow.__version__,
    "package_file": package.__file__,
    "version": distribution.version,
    "direct_url": json.loads(distribution.read_text("direct_url.json") or "{}"),
    "entry_points": [e.value for e in ours],
    "provider_info": info,
    "modules": modules,
    "exported": exported,
    "webhooks": webhooks,
}))
"""

# Run inside the cell after the listener DAG is parsed: the receiver's recorder against this Airflow's database.
RECORD = r"""
import json
from airflow_provider_openai_fusion.webhooks.events import Event
from airflow_provider_openai_fusion.webhooks.recorder import record

event = Event("evt_compat", "response.completed", "resp_compat", 1)
unused = Event("evt_unused", "batch.failed", "batch_compat", 1)
print(json.dumps([record("openai_fusion_default", e).value for e in (event, event, unused)]))
"""


def find_python(version: str) -> Path:
    """
    The newest installed CPython ``version`` (``"3.10"``): pyenv's, else one on PATH.

    :param version: major.minor.
    """
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [p for p in pyenv.glob(f"{version}.*/bin/python") if p.parent.parent.name.split(".")[-1].isdigit()]
    if found:
        return max(found, key=lambda p: int(p.parent.parent.name.split(".")[-1]))
    on_path = shutil.which(f"python{version}")
    if on_path is None:
        pytest.fail(f"no Python {version} on this machine (looked in {pyenv} and on PATH)")
    return Path(on_path)


def repository_modules() -> set[str]:
    """Every module and subpackage of the package in the working tree, dotted (the package itself left out)."""
    names = set()
    for path in (ROOT / PACKAGE).rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names - {PACKAGE}


def last_json(text: str) -> Any:
    """The JSON document that ends ``text`` (the CLI may log lines before it)."""
    starts = [i for i, char in enumerate(text) if char in "[{" and (i == 0 or text[i - 1] == "\n")]
    for start in starts:
        try:
            return json.loads(text[start:])
        except json.JSONDecodeError:
            continue
    raise AssertionError(f"no JSON at the end of:\n{text[-3000:]}")


def cell_env(home: Path, stack: Stack) -> dict[str, str]:
    """
    The environment of the cell's commands: nothing of this process's Airflow, Python or venv settings.

    :param home: the cell's AIRFLOW_HOME.
    :param stack: the stand-in behind Prism.
    """
    inherited = ("AIRFLOW", "PYTHON", "VIRTUAL_ENV", "UV_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    connection = {"conn_type": "openai_fusion", "host": stack.base_url, "password": stack.api_key}
    return {
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": json.dumps(connection),
        "OPENAI_FUSION_OUTPUT_DIR": str(home / "output"),
    }


@dataclass
class CellRun:
    """What one cell's commands printed, and when each ended."""

    venv: Path
    api_key: str
    started: float
    outputs: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)

    def stdout(self, step: str) -> str:
        """
        The standard output of ``step``, which must have run and succeeded.

        :param step: the step's name.
        """
        assert step in self.outputs, f"{step} did not run: an earlier step failed"
        done = self.outputs[step]
        assert done.returncode == 0, f"{step} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        return done.stdout


def run_cell(cell: Cell, wheel: Path, stack: Stack, home: Path) -> CellRun:
    """
    Run one cell's commands in order, within ``CELL_SECONDS``; stop at the first that fails (the tour aside).

    :param cell: the cell.
    :param wheel: the built wheel.
    :param stack: the stand-in behind Prism.
    :param home: an empty folder for the cell's AIRFLOW_HOME.
    """
    deadline = Deadline(CELL_SECONDS)
    run = CellRun(CELLS_DIR / cell.id / "venv", stack.api_key, time.monotonic())
    shutil.rmtree(run.venv, ignore_errors=True)
    python, airflow = run.venv / "bin" / "python", run.venv / "bin" / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "example_dags" / "openai_fusion_tour.py", home / "dags")
    shutil.copy(ROOT / "tests" / "e2e" / "dags" / "webhook_listeners.py", home / "dags")
    env = cell_env(home, stack)
    install = [UV, "pip", "install", "-q", "--python", python, "--exclude-newer", cell.resolved_at]
    steps: list[tuple[str, list[str | Path], dict[str, str]]] = [
        ("uv venv", [UV, "venv", "-q", "--python", find_python(cell.python), run.venv], uv_env()),
        ("install", [*install, wheel, f"apache-airflow=={cell.airflow}"], uv_env()),
        ("import every module", [python, "-I", "-c", INSTALLED], env),
        ("airflow providers list", [airflow, "providers", "list", "-o", "json"], env),
        ("airflow providers hooks", [airflow, "providers", "hooks", "-o", "json"], env),
        ("airflow db migrate", [airflow, "db", "migrate"], env),
        ("airflow plugins", [airflow, "plugins", "-o", "json"], env),
        ("airflow dags reserialize", [airflow, "dags", "reserialize"], env),
        ("webhook record", [python, "-I", "-c", RECORD], env),
        ("airflow dags test", [airflow, "dags", "test", DAG_ID], env),
        ("run report", [python, "-I", ROOT / "dev" / "run_report.py", "--json", DAG_ID], env),
    ]
    for step, command, step_env in steps:
        done = deadline.run(step, [str(part) for part in command], env=step_env, cwd=home)
        run.outputs[step], run.ended[step] = done, time.monotonic()
        if done.returncode != 0 and step != "airflow dags test":
            break
    return run


@pytest.fixture(scope="module")
def cell_runs(
    request: pytest.FixtureRequest, dists: Dists, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[CellRun]]]:
    """
    Start every selected cell, ``CELLS_AT_ONCE`` at a time, in the order of ``CELLS`` (the slow 3.2 cells first).

    Each test waits for its own cell only, so cells run while earlier tests assert.
    """
    selected = [
        item.callspec.params["cell"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_cell" and item.module is request.module
    ]
    with ThreadPoolExecutor(max_workers=CELLS_AT_ONCE, thread_name_prefix="cell") as pool:
        yield {
            cell.id: pool.submit(run_cell, cell, dists.wheel, stack, tmp_path_factory.mktemp(cell.id))
            for cell in selected
        }


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id for cell in CELLS])
def test_cell(cell: Cell, cell_runs: dict[str, Future[CellRun]]) -> None:
    row_file = CELLS_DIR / "results" / f"{cell.id}.md"
    row_file.unlink(missing_ok=True)
    run = cell_runs[cell.id].result()
    run.stdout("install")

    # What is installed, and every module imported from it.
    found = json.loads(run.stdout("import every module").strip().splitlines()[-1])
    assert found["python"].rsplit(".", 1)[0] == cell.python
    assert found["airflow"] == cell.airflow
    site_packages = run.venv / "lib" / f"python{cell.python}" / "site-packages"
    assert Path(found["package_file"]) == site_packages / PACKAGE / "__init__.py"
    assert found["version"] == __version__
    assert found["direct_url"]["url"].endswith(f"/{PACKAGE}-{__version__}-py3-none-any.whl")
    assert "archive_info" in found["direct_url"]
    assert found["entry_points"] == [f"{PACKAGE}.get_provider_info:get_provider_info"]
    info = found["provider_info"]
    assert (info["package-name"], info["versions"]) == (DISTRIBUTION, [__version__])
    assert set(found["modules"]) == repository_modules()
    kinds = ("hooks", "operators", "sensors", "triggers")
    assert {m for kind in kinds for entry in info[kind] for m in entry["python-modules"]} <= set(found["modules"])
    for subpackage, classes in found["exported"].items():
        assert classes and all(module.startswith(f"{PACKAGE}.{subpackage}.") for module in classes.values())

    # What the airflow CLI sees.
    providers = last_json(run.stdout("airflow providers list"))
    assert {"package_name": DISTRIBUTION, "version": __version__} in [
        {"package_name": p["package_name"], "version": p["version"]} for p in providers
    ]
    (hook,) = [h for h in last_json(run.stdout("airflow providers hooks")) if h["connection_type"] == "openai_fusion"]
    assert (hook["class"], hook["package_name"]) == (f"{PACKAGE}.hooks.openai_fusion.OpenAIFusionHook", DISTRIBUTION)

    # The webhook plugin, asset and recorder on this Airflow.
    webhooks = found["webhooks"]
    assert webhooks["asset"] == "openai-fusion://openai_fusion_default/batch.completed"
    assert webhooks["apps"] == ["/openai-fusion"]
    assert webhooks["plugin_entry_points"] == [f"{PACKAGE}.webhooks.plugin:OpenAIFusionWebhooksPlugin"]
    run.stdout("airflow db migrate")
    plugins = last_json(run.stdout("airflow plugins"))
    assert "openai_fusion_webhooks" in [plugin["name"] for plugin in plugins], plugins
    run.stdout("airflow dags reserialize")
    recorded = json.loads(run.stdout("webhook record").strip().splitlines()[-1])
    assert recorded == ["recorded", "repeated", "no_asset"]

    # The tour, end to end.
    report = json.loads(run.stdout("run report").strip().splitlines()[-1])
    test = run.outputs["airflow dags test"]
    failed = {label: state for label, (state, _) in report["tasks"].items() if state not in ("success", "skipped")}
    assert report["state"] == "success" and report["tasks"] and not failed, (failed, test.stderr[-5000:])
    assert test.returncode == 0
    assert run.api_key not in test.stdout + test.stderr

    seconds = {step: run.ended[step] - run.started for step in ("install", "airflow providers hooks", "run report")}
    row = (
        f"| {cell.airflow} | {found['python']} | passed | {seconds['install']:.0f} s | "
        f"{seconds['airflow providers hooks'] - seconds['install']:.0f} s | "
        f"{seconds['run report'] - seconds['airflow providers hooks']:.0f} s ({len(report['tasks'])} tasks) | "
        f"{seconds['run report']:.0f} s |"
    )
    row_file.parent.mkdir(parents=True, exist_ok=True)
    row_file.write_text(row + "\n")

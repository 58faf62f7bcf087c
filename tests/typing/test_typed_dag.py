"""
The typed DAG of this folder is a DAG file Airflow parses, and mypy, which checks it with the package in
``bash scripts/test.sh``, does catch a wrong argument type in such a file (so the check can fail).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HERE = Path(__file__).resolve().parent


def test_the_typed_dag_parses() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(HERE / "typed_dag.py"), safe_mode=False)
    assert bag.import_errors == {} and list(bag.dags) == ["typed_dag"]
    assert len(bag.dags["typed_dag"].tasks) == 7


@pytest.mark.timeout(600)  # mypy reads Airflow's and the package's types (about a minute without its cache)
def test_mypy_rejects_a_wrong_argument_type_in_a_dag(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_dag.py"
    text = (HERE / "typed_dag.py").read_text()
    wrong.write_text(text.replace("dimensions=64, limit=100", 'dimensions="64", limit=100'))
    mypy = str(Path(sys.executable).with_name("mypy"))
    checked = subprocess.run([mypy, "--strict", str(wrong)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert checked.returncode == 1, checked.stdout[-3000:]
    assert 'Argument "dimensions" to "OpenAIEmbeddingsOperator" has incompatible type "str"' in checked.stdout


@pytest.mark.parametrize("layer", ["operators", "sensors", "triggers"])
def test_type_checkers_see_every_class_of_the_areas_table(layer: str) -> None:
    """The lazy packages import each class under TYPE_CHECKING too (else a DAG's classes would all be Any)."""
    import ast

    from airflow_provider_openai_fusion.areas import classes

    tree = ast.parse((ROOT / "airflow_provider_openai_fusion" / layer / "__init__.py").read_text())
    (block,) = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    seen = {
        alias.name: node.module.rsplit(".", 1)[-1]
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
        if alias.asname == alias.name
    }
    assert seen == classes(layer)

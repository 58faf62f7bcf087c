"""The nightly vector-store sync example lists its folder, local or an object-storage URI, as its docstring says."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "example_dags" / "vector_store_nightly_sync.py"


def listed(monkeypatch: pytest.MonkeyPatch, docs_dir: str) -> Any:
    """What the DAG's ``list_documents`` task returns with ``$OPENAI_FUSION_DOCS_DIR`` set to ``docs_dir``."""
    monkeypatch.setenv("OPENAI_FUSION_DOCS_DIR", docs_dir)
    spec = importlib.util.spec_from_file_location("vector_store_nightly_sync_under_test", DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag.get_task("list_documents").python_callable()


def test_an_object_storage_folder_is_listed_by_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "nested").mkdir(parents=True)
    (docs / "b.md").write_text("b")
    (docs / "a.md").write_text("a")
    assert listed(monkeypatch, docs.as_uri()) == [f"{docs.as_uri()}/a.md", f"{docs.as_uri()}/b.md"]
    assert sorted(path.name for path in docs.iterdir()) == ["a.md", "b.md", "nested"]  # nothing written there


def test_a_missing_local_folder_gets_the_three_samples(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    docs = tmp_path / "handbook"
    samples = ("expenses.md", "holidays.md", "security.md")
    assert listed(monkeypatch, str(docs)) == [str(docs / name) for name in samples]

"""
The documentation's code: every snippet of ``docs/snippets/`` is a DAG file that Airflow parses, and every Python
code block of the site comes from one (so no example in the docs escapes the tests; ``tests/e2e/test_doc_snippets``
runs each snippet against the stand-in).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
SNIPPETS = sorted((DOCS / "snippets").glob("*.py"))
PAGES = sorted(DOCS.rglob("*.md"))
# A fenced Python block: its body is either one snippet include line or inline code.
PYTHON_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INCLUDE = re.compile(r'^--8<-- "([\w./-]+)"$')


def test_there_are_snippets() -> None:
    assert len(SNIPPETS) >= 12, SNIPPETS


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[path.stem for path in SNIPPETS])
def test_each_snippet_is_a_dag_file_airflow_parses(snippet: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(snippet), safe_mode=False)
    assert bag.import_errors == {}, bag.import_errors
    assert [dag.dag_id for dag in bag.dags.values()] == [f"docs_{snippet.stem}"]
    assert bag.dags[f"docs_{snippet.stem}"].tasks


def python_blocks(page: Path) -> list[str]:
    return [block.strip() for block in PYTHON_BLOCK.findall(page.read_text())]


def test_every_python_block_of_the_docs_includes_a_snippet_that_exists() -> None:
    """
    The site's own pages (home, getting started, how-to) show only snippets; another page may hold a short
    fragment (``with DAG(...):``), which must at least be valid Python.
    """
    inline, missing, broken = [], [], []
    for page in PAGES:
        for block in python_blocks(page):
            include = INCLUDE.match(block)
            if include is not None:
                if not (DOCS / "snippets" / include.group(1)).is_file():
                    missing.append(f"{page.relative_to(ROOT)}: {include.group(1)}")
            elif page.name in ("index.md", "getting-started.md") or page.parent.name == "how-to":
                inline.append(f"{page.relative_to(ROOT)}: {block.splitlines()[0]}")
            else:
                try:  # a fragment may end with the header of a block ("with DAG(...):")
                    ast.parse(block + "\n    ..." if block.endswith(":") else block)
                except SyntaxError as error:
                    broken.append(f"{page.relative_to(ROOT)}: {error}")
    assert not inline, "inline Python on a site page (put it in docs/snippets/ and include it):\n" + "\n".join(inline)
    assert not missing, missing
    assert not broken, broken


def test_every_snippet_is_shown_on_some_page() -> None:
    shown = {INCLUDE.match(block).group(1) for page in PAGES for block in python_blocks(page) if INCLUDE.match(block)}
    assert {path.name for path in SNIPPETS} <= shown, {path.name for path in SNIPPETS} - shown


def test_the_readme_dag_is_the_first_dag_snippet() -> None:
    """The README (the wheel's long description, which cannot include files) shows first_dag.py verbatim."""
    (block,) = PYTHON_BLOCK.findall((ROOT / "README.md").read_text())
    snippet = (DOCS / "snippets" / "first_dag.py").read_text()
    code = snippet.split('"""', 2)[2].lstrip("\n")
    assert block == code
    assert len(code.splitlines()) <= 15

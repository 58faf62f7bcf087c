"""
The documentation site as a reader sees it: ``mkdocs build --strict`` (a warning, a broken link or a missing
reference fails), then the built home page, an operator's reference page and the connection page opened in
Debian's headless Chromium (``docs_site.mjs``, playwright-core) from a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.browser
HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    mkdocs = str(Path(sys.executable).with_name("mkdocs"))
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    return out


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serve the built site without a log line per request."""

    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(300)  # the module's fixture builds the site
def test_the_strict_build_renders_the_reference_and_the_models_table(site: Path) -> None:
    reference = (site / "reference" / "operators" / "index.html").read_text()
    from airflow_provider_openai_fusion.areas import classes

    anchors = [
        f'id="airflow_provider_openai_fusion.operators.{module}.{name}"'
        for name, module in classes("operators").items()
    ]
    assert len(anchors) >= 15 and [anchor for anchor in anchors if anchor not in reference] == []
    models = (site / "models" / "index.html").read_text()
    assert "gpt-4o-mini" in models and "render:" not in models


@pytest.mark.timeout(300)
def test_home_and_an_operator_page_render_in_chromium(site: Path, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node and Path(CHROMIUM).exists(), "run `bash scripts/bootstrap.sh --browser`"
    pages = ["", "reference/operators/", "connection/"]
    with served(site) as base:
        env = {
            **os.environ,
            "DOCS_SITE_INPUT": json.dumps(
                {"base": base, "chromium": CHROMIUM, "pages": pages, "screenshots": str(tmp_path)}
            ),
        }
        done = subprocess.run(
            [node, str(HERE / "docs_site.mjs")], env=env, capture_output=True, text=True, timeout=150, cwd=ROOT
        )
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    home, operators, connection = (seen[page] for page in pages)
    assert home["title"] == "airflow-provider-openai-fusion" and home["h1"] == "airflow-provider-openai-fusion"
    assert {"Getting started", "Text and chat", "Batch", "Operators", "Changelog"} <= set(home["navLinks"])
    assert home["codeBlocks"] >= 1 and "OpenAIResponseOperator" in home["firstCode"]
    assert operators["title"].startswith("Operators - ") and operators["h1"] == "Operators"
    assert operators["codeBlocks"] >= 5 and "OpenAIResponseOperator" in json.dumps(operators)
    assert connection["brokenImages"] == [] and connection["h1"] == "The connection"
    assert len(list(tmp_path.glob("page-*.png"))) == len(pages)

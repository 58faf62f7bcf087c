"""
Fixtures of the packaging tests: the sdist and wheel built from the repository, and commands bounded in time.

Everything is built and installed with ``uv`` (from the dev extra) with its cache under ``build/uv-cache``, so a
second run downloads nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from dev.stack import stop_process
from tests.conftest import ROOT

UV = Path(sys.executable).with_name("uv")
UV_CACHE = ROOT / "build" / "uv-cache"


def uv_env() -> dict[str, str]:
    """This process's environment, with uv's cache under ``build/`` and no Python downloads (none reachable)."""
    return {**os.environ, "UV_CACHE_DIR": str(UV_CACHE), "UV_PYTHON_DOWNLOADS": "never"}


class Deadline:
    """An absolute deadline shared by the steps of one test; each step runs bounded by what is left of it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def run(self, step: str, command: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
        """
        Run ``command`` to completion within what is left; stop it and its children and fail the test if it overruns.

        :param step: what the command does, for the failure message.
        :param command: the command.
        :param env: its environment.
        :param cwd: its working directory.
        """
        left = self.end - time.monotonic()
        if left <= 0:
            pytest.fail(f"no time left for {step}: the budget of {self.seconds:.0f} s is spent")
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            stdout, stderr = process.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            stop_process(process)
            stdout, stderr = process.communicate()
            pytest.fail(f"{step} overran the budget of {self.seconds:.0f} s:\n{stdout[-2000:]}\n{stderr[-3000:]}")
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@dataclass(frozen=True)
class Dists:
    """The sdist and the wheel of one build."""

    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """Build the sdist, then the wheel from it (``python -m build``), as a release would; within 5 minutes."""
    out = tmp_path_factory.mktemp("dist")
    build = Deadline(300).run(
        "python -m build",
        [sys.executable, "-m", "build", "--installer", "uv", "--outdir", str(out), str(ROOT)],
        env=uv_env(),
        cwd=ROOT,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dists(sdist, wheel)

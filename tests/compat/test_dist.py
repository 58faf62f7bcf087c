"""The sdist and the wheel: what they hold, their metadata, and that twine accepts them."""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

from airflow_provider_openai_fusion import __version__
from tests.compat.conftest import Deadline, Dists, uv_env
from tests.compat.matrix import CELLS
from tests.conftest import ROOT

# The session's build of the sdist and the wheel takes up to 300 s (in the first test).
pytestmark = [pytest.mark.compat, pytest.mark.timeout(600)]

PACKAGE = "airflow_provider_openai_fusion"
DIST_INFO = f"{PACKAGE}-{__version__}.dist-info"
APACHE_2_HEAD = ["Apache License", "Version 2.0, January 2004", "http://www.apache.org/licenses/"]


def version_key(version: str) -> tuple[int, ...]:
    """``"3.10"`` -> ``(3, 10)``, to compare versions as numbers."""
    return tuple(int(part) for part in version.split("."))


def package_files() -> set[str]:
    """
    The package's files in the working tree, as paths relative to the repository (no caches).

    Every one must be in the wheel: a data file the package reads needs its line in ``package-data``.
    """
    files = {p for p in (ROOT / PACKAGE).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    return {p.relative_to(ROOT).as_posix() for p in files if p.suffix != ".pyc"}


def wheel_metadata(wheel: Path) -> Message:
    """The wheel's ``METADATA``."""
    with zipfile.ZipFile(wheel) as archive:
        return Parser().parsestr(archive.read(f"{DIST_INFO}/METADATA").decode())


def test_twine_check_accepts_both(dists: Dists) -> None:
    check = Deadline(120).run(
        "twine check",
        [str(Path(sys.executable).with_name("twine")), "check", "--strict", str(dists.sdist), str(dists.wheel)],
        env=uv_env(),
        cwd=ROOT,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("PASSED") == 2, check.stdout


def test_wheel_holds_the_package_and_its_metadata_only(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as archive:
        names = set(archive.namelist())
        license_text = archive.read(f"{DIST_INFO}/licenses/LICENSE").decode()
        entry_points = archive.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert dists.wheel.name == f"{PACKAGE}-{__version__}-py3-none-any.whl"
    assert f"{PACKAGE}/py.typed" in names
    dist_info = {f"{DIST_INFO}/{name}" for name in ("METADATA", "WHEEL", "RECORD", "entry_points.txt", "top_level.txt")}
    assert names - package_files() - dist_info == {f"{DIST_INFO}/licenses/LICENSE"}
    assert package_files() <= names, package_files() - names
    assert license_text == (ROOT / "LICENSE").read_text()
    assert [line.strip() for line in license_text.strip().splitlines()[:3]] == APACHE_2_HEAD
    assert f"[apache_airflow_provider]\nprovider_info = {PACKAGE}.get_provider_info:get_provider_info" in entry_points


def test_wheel_metadata_claims_what_the_matrix_tests(dists: Dists) -> None:
    metadata = wheel_metadata(dists.wheel)
    assert metadata["Name"] == "airflow-provider-openai-fusion"
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["License-File"] == "LICENSE"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().strip() == (ROOT / "README.md").read_text().strip()
    classifiers = metadata.get_all("Classifier")
    assert {"Framework :: Apache Airflow", "Framework :: Apache Airflow :: Provider", "Typing :: Typed"} <= set(
        classifiers
    )
    # Every Python version claimed is run: by a matrix cell, or by this suite itself.
    claimed = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    tested = {cell.python for cell in CELLS} | {f"{sys.version_info.major}.{sys.version_info.minor}"}
    assert claimed == tested
    # The lower bounds are the oldest cells.
    assert metadata["Requires-Python"] == f">={min(tested, key=version_key)}"
    oldest_airflow = min((cell.airflow for cell in CELLS), key=version_key)
    assert f"apache-airflow>={oldest_airflow.rsplit('.', 1)[0]}" in metadata.get_all("Requires-Dist")


def test_sdist_holds_the_package_license_readme_and_changelog_only(dists: Dists) -> None:
    top = f"{PACKAGE}-{__version__}"
    with tarfile.open(dists.sdist) as archive:
        names = {m.name.removeprefix(f"{top}/") for m in archive.getmembers() if m.isfile()}
        license_text = archive.extractfile(f"{top}/LICENSE").read().decode()
    assert package_files() <= names, package_files() - names
    others = {n for n in names - package_files() if not n.startswith(f"{PACKAGE}.egg-info/")}
    assert others == {"PKG-INFO", "pyproject.toml", "setup.cfg", "MANIFEST.in", "LICENSE", "README.md", "CHANGELOG.md"}
    assert license_text == (ROOT / "LICENSE").read_text()

"""
The compatibility matrix: which Airflow releases on which Pythons the wheel is installed and run on.

The package claims ``apache-airflow>=3.2`` and ``requires-python>=3.10``: the cells are the oldest and the newest
Airflow release it claims (3.2.2, the newest 3.2 patch on PyPI, and 3.3.2) on the oldest and the newest Python
those releases support that this kind of machine has (3.10 and 3.13, from pyenv), plus 3.12 on the newest
Airflow, so that every Python version in the classifiers is run (3.11 is the main test suite's).

Airflow is installed as its documentation says, with the dependency versions of its release: Airflow publishes
them as a constraints file per release, which is out of reach here, so each cell resolves with uv's
``--exclude-newer`` set to the day after the release (the date its constraints were frozen). Without that,
3.2.2 resolves web-framework releases newer than itself (fastapi, cadwyn, starlette) and its own task execution
API fails under ``airflow dags test`` before any task code runs; 3.3 caps fastapi below 0.137. It also keeps the
matrix reproducible: a release of some dependency tomorrow does not change what the cells install.
"""

from __future__ import annotations

from dataclasses import dataclass

# Airflow version -> the moment its dependencies are resolved at (upload of the release on PyPI, plus a day).
AIRFLOW_RELEASES = {
    "3.2.2": "2026-05-30T00:00:00Z",
    "3.3.2": "2026-09-18T00:00:00Z",
}


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix."""

    airflow: str
    python: str

    @property
    def id(self) -> str:
        """The cell's test id and folder name."""
        return f"airflow{self.airflow}-py{self.python}"

    @property
    def resolved_at(self) -> str:
        """The ``--exclude-newer`` moment of this cell's Airflow release."""
        return AIRFLOW_RELEASES[self.airflow]


CELLS = [
    Cell("3.2.2", "3.10"),
    Cell("3.2.2", "3.13"),
    Cell("3.3.2", "3.10"),
    Cell("3.3.2", "3.12"),
    Cell("3.3.2", "3.13"),
]

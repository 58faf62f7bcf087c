"""
The README's main job: run the tour DAG end to end with ``airflow dags test`` and print what each task made.

By default it starts the stand-in behind ``prism proxy --errors`` (no API key needed), uses a throwaway
``AIRFLOW_HOME`` with a SQLite metadata DB, and stops everything it started. With ``--live`` (and
``OPENAI_API_KEY`` set) it runs only the tour's cheap, non-destructive tasks against api.openai.com.
Exits non-zero if any task failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dev.stack import ROOT, running_stack

DAG_ID = "openai_fusion_tour"


def airflow_env(home: Path, base_url: str, api_key: str) -> dict[str, str]:
    """The environment of a throwaway Airflow whose default connection points at ``base_url``."""
    connection = {"conn_type": "openai_fusion", "host": base_url, "password": api_key, "extra": {"max_retries": 2}}
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": json.dumps(connection),
        "OPENAI_FUSION_OUTPUT_DIR": str(home / "output"),
    }


@contextlib.contextmanager
def api_base(live: bool, api_key: str, log_dir: Path) -> Iterator[str]:
    """The base URL to run against: OpenAI's in live mode, else the stand-in behind Prism."""
    if live:
        yield "https://api.openai.com/v1"
        return
    with running_stack(api_key, log_dir) as base_url:
        yield base_url


def run_tour(live: bool, keep: bool) -> int:
    """Run the tour; return the process exit code."""
    api_key = os.environ.get("OPENAI_API_KEY", "") if live else f"sk-standin-{secrets.token_hex(8)}"
    if live and not api_key:
        print("--live needs OPENAI_API_KEY in the environment", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="openai-fusion-tour-"))
    (home / "dags").mkdir()
    for dag_file in (ROOT / "example_dags").glob("*.py"):
        shutil.copy(dag_file, home / "dags" / dag_file.name)
    try:
        with api_base(live, api_key, home / "logs" / "servers") as base_url:
            env = airflow_env(home, base_url, api_key)
            if live:
                env["OPENAI_FUSION_TOUR_LIVE"] = "1"
            airflow = str(Path(sys.executable).with_name("airflow"))
            subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
            print(f"Running {DAG_ID} against {base_url} (AIRFLOW_HOME={home})", flush=True)
            test = subprocess.run([airflow, "dags", "test", DAG_ID], env=env)
            report = subprocess.run([sys.executable, "-m", "dev.run_report", DAG_ID], env=env, cwd=ROOT)
        return test.returncode or report.returncode
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--live", action="store_true", help="run the cheap tasks against api.openai.com")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway AIRFLOW_HOME")
    args = parser.parse_args()
    sys.exit(run_tour(args.live, args.keep))


if __name__ == "__main__":
    main()

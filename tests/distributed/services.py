"""
The services of the distributed test, each on a free port of 127.0.0.1 with its data under one temp folder:
PostgreSQL (the metadata DB and the Celery result backend), Redis (the Celery broker), and the Airflow
components (api-server, scheduler, triggerer, dag-processor, two Celery workers) from
``build/distributed-venv``. Every context manager stops what it started, also on failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dev.stack import free_port, stop_process
from tests.conftest import ROOT

VENV = ROOT / "build" / "distributed-venv"
AIRFLOW = VENV / "bin" / "airflow"
HOSTNAME_MODULE = Path(__file__).parent / "airflow_path"
WORKERS = ("worker-a", "worker-b")


def stale_provider_files() -> list[str]:
    """
    The provider's modules that differ between the repository and ``build/distributed-venv`` (which holds a
    wheel built by ``bash scripts/bootstrap.sh --distributed``), so that the test never runs yesterday's code.
    """
    source = ROOT / "airflow_provider_openai_fusion"
    installed = next(VENV.glob("lib/python*/site-packages")) / source.name
    names = {str(p.relative_to(source)) for p in source.rglob("*.py")}
    names |= {str(p.relative_to(installed)) for p in installed.rglob("*.py")}
    return sorted(
        name
        for name in names
        if not ((source / name).is_file() and (installed / name).is_file())
        or (source / name).read_bytes() != (installed / name).read_bytes()
    )


def _postgres_bin() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` (Debian's layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run bash scripts/bootstrap.sh --distributed")
    return found[-1].parent


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run ``command`` as the ``postgres`` user Debian creates."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL server; the user ``airflow`` is trusted on 127.0.0.1 and owns the database ``airflow``."""

    port: int
    bindir: Path
    data: Path

    @property
    def sqlalchemy_url(self) -> str:
        """The URL of the ``airflow`` database for SQLAlchemy (psycopg2)."""
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def query(self, sql: str, database: str = "airflow") -> list[list[str]]:
        """
        Run ``sql`` with psql; return the rows, each a list of column texts.

        :param sql: one statement.
        :param database: the database to connect to.
        """
        command = [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "airflow", "-d", database]
        command += ["-v", "ON_ERROR_STOP=1", "-At", "-F", "\t", "-c", sql]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return [line.split("\t") for line in done.stdout.splitlines()]

    def server_pid(self) -> int:
        """The postmaster's process id."""
        return int((self.data / "postmaster.pid").read_text().split()[0])


@contextlib.contextmanager
def postgres(root: Path) -> Iterator[Postgres]:
    """
    Run PostgreSQL on a free port of 127.0.0.1 (TCP only, no Unix socket), its data in ``root/postgres``.

    :param root: the test's temp folder.
    """
    bindir = _postgres_bin()
    data, log = root / "postgres", root / "postgres.log"
    data.mkdir()
    log.touch()
    if os.geteuid() == 0:
        root.chmod(0o711)
        shutil.chown(data, "postgres")
        shutil.chown(log, "postgres")
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "airflow", "-A", "trust", "-E", "UTF8", "--no-sync"]
    subprocess.run(_as_postgres(initdb), check=True, capture_output=True, timeout=120)
    port = free_port()
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": "''",
        "max_connections": "200",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    with (data / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "60"]
    try:
        started = subprocess.run(_as_postgres([*pg_ctl, "-l", str(log), "start"]), capture_output=True, timeout=90)
        assert started.returncode == 0, log.read_text(errors="replace")[-3000:]
        server = Postgres(port, bindir, data)
        server.query("CREATE DATABASE airflow", database="postgres")
        yield server
    finally:
        subprocess.run(_as_postgres([*pg_ctl, "-m", "fast", "stop"]), capture_output=True, timeout=60)


@dataclass(frozen=True)
class Redis:
    """A running Redis server."""

    url: str
    pid: int


@contextlib.contextmanager
def redis(root: Path) -> Iterator[Redis]:
    """
    Run ``redis-server`` on a free port of 127.0.0.1 without persistence.

    :param root: the test's temp folder (its working directory).
    """
    port = free_port()
    (root / "redis").mkdir()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(root / "redis"), "--logfile", str(root / "redis.log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
            assert process.poll() is None and time.monotonic() < deadline, (root / "redis.log").read_text()[-2000:]
            time.sleep(0.1)
        yield Redis(f"redis://127.0.0.1:{port}/0", process.pid)
    finally:
        stop_process(process)


def airflow_env(home: Path, db: Postgres, broker: str, api_port: int, output_root: str) -> dict[str, str]:
    """
    The environment every Airflow component shares: CeleryExecutor, PostgreSQL, Redis, all on 127.0.0.1.

    :param home: ``AIRFLOW_HOME`` (with the dags folder and the task logs, seen by all components).
    :param db: the metadata DB.
    :param broker: the Celery broker URL.
    :param api_port: the api-server's port.
    :param output_root: ``OPENAI_FUSION_OUTPUT_DIR``: the ``ObjectStoragePath`` root of the example DAGs' files.
    """
    base = f"http://127.0.0.1:{api_port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "PYTEST_", "VIRTUAL_ENV"))}
    env.update(
        {
            "PATH": f"{VENV / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            "PYTHONPATH": str(HOSTNAME_MODULE),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "16",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "16",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "fusion_worker_hostname.hostname",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db.sqlalchemy_url,
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": db.sqlalchemy_url.replace("postgresql+psycopg2", "db+postgresql"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__API__WORKERS": "2",
            "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            # Two shared cores carry a dozen processes here: give the tasks' calls to the Execution API time
            # before a slow answer counts as a failed heartbeat (three of which would kill the task).
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS": "10",
            "OPENAI_FUSION_OUTPUT_DIR": output_root,
        }
    )
    return env


@contextlib.contextmanager
def airflow_components(home: Path, env: dict[str, str], worker_concurrency: int) -> Iterator[list[int]]:
    """
    Run api-server, scheduler, triggerer, dag-processor and the two Celery workers; yield their process ids
    (each leads its own process group); stop them all on exit.

    Each worker has its own Celery node name, pid file and ``OPENAI_FUSION_WORKER`` (its task instances'
    ``hostname``); both serve the default queue. No component serves logs over HTTP: the task logs are files
    under ``AIRFLOW_HOME/logs``, which every component sees.

    :param home: ``AIRFLOW_HOME``; each component's output goes to ``<name>.out`` there.
    :param env: the shared environment (see :func:`airflow_env`).
    :param worker_concurrency: task slots per worker.
    """
    port = env["AIRFLOW__API__PORT"]
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "api-server": (["api-server", "--host", "127.0.0.1", "--port", port], {}),
        "scheduler": (["scheduler", "--skip-serve-logs"], {}),
        "triggerer": (["triggerer", "--skip-serve-logs"], {}),
        "dag-processor": (["dag-processor"], {}),
    }
    for name in WORKERS:
        worker = ["celery", "worker", "--concurrency", str(worker_concurrency), "--celery-hostname", f"{name}@%h"]
        worker += ["--pid", str(home / f"{name}.pid"), "--skip-serve-logs"]
        commands[name] = (worker, {"OPENAI_FUSION_WORKER": name})
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, (args, extra) in commands.items():
            with (home / f"{name}.out").open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [str(AIRFLOW), *args], env={**env, **extra}, stdout=out, stderr=out, start_new_session=True
                    )
                )
        yield [process.pid for process in processes]
    finally:
        for process in processes:  # all at once: each may take seconds to shut down
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            stop_process(process)

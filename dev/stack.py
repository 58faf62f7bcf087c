"""
Start the stand-in behind ``prism proxy --errors`` on 127.0.0.1, for the tests and the main job.

Prism checks every request against OpenAI's spec (off-spec requests get 422 and never reach the stand-in)
and every response (``--errors`` turns an off-spec answer into a 500), so anything green through this stack
is green against the contract.

Usage as a script: ``python -m dev.stack --api-key KEY`` prints ``BASE_URL=...`` and runs until stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "build" / "openapi.prism.json"
PRISM = ROOT / "node_modules" / ".bin" / "prism"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, deadline: float) -> None:
    """
    Wait until ``url`` answers (any status); fail with the end of ``log`` if ``process`` exits or time runs out.

    :param url: a URL the process serves.
    :param process: the server process.
    :param log: its log file.
    :param deadline: a ``time.monotonic()`` value.
    """
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=2)
            return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in time:\n{log.read_text(errors='replace')[-3000:]}")


def stop_process(process: subprocess.Popen) -> None:
    """
    Stop a process started with ``start_new_session=True`` and its children: SIGTERM, then SIGKILL after 15 s.

    :param process: the process.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def running_stack(
    api_key: str,
    log_dir: Path,
    *,
    job_step_seconds: float = 1.0,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> Iterator[str]:
    """
    Run the stand-in behind Prism; yield the base URL a connection should use; stop both on exit.

    :param api_key: the only key the stand-in accepts.
    :param log_dir: where the two servers' logs go.
    :param job_step_seconds: how long a fine-tuning job stays in each status.
    :param webhook_url: where the stand-in posts webhooks (its jobs then also end without being polled).
    :param webhook_secret: the ``whsec_...`` secret it signs them with (passed in its environment only).
    """
    standin_env = {**os.environ}
    if webhook_url and webhook_secret:
        standin_env.update(STANDIN_WEBHOOK_URL=webhook_url, STANDIN_WEBHOOK_SECRET=webhook_secret)
    subprocess.run([sys.executable, str(ROOT / "dev" / "prism_spec.py"), str(SPEC)], check=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    standin_port, prism_port = free_port(), free_port()
    standin_log, prism_log = log_dir / "standin.log", log_dir / "prism.log"
    standin_cmd = [sys.executable, "-m", "dev.standin.app", "--port", str(standin_port), "--api-key", api_key]
    standin_cmd += ["--job-step-seconds", str(job_step_seconds)]
    prism_cmd = [str(PRISM), "proxy", "-h", "127.0.0.1", "-p", str(prism_port), "--errors", str(SPEC)]
    prism_cmd.append(f"http://127.0.0.1:{standin_port}")
    processes: list[subprocess.Popen] = []
    try:
        with standin_log.open("wb") as out:
            processes.append(
                subprocess.Popen(standin_cmd, cwd=ROOT, env=standin_env, stdout=out, stderr=out, start_new_session=True)
            )
        with prism_log.open("wb") as out:
            processes.append(subprocess.Popen(prism_cmd, cwd=ROOT, stdout=out, stderr=out, start_new_session=True))
        deadline = time.monotonic() + 120
        wait_until_up(f"http://127.0.0.1:{standin_port}/models", processes[0], standin_log, deadline)
        wait_until_up(f"http://127.0.0.1:{prism_port}/models", processes[1], prism_log, deadline)
        yield f"http://127.0.0.1:{prism_port}"
    finally:
        for process in reversed(processes):
            stop_process(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--log-dir", type=Path, default=ROOT / "build" / "stack-logs")
    args = parser.parse_args()
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    with running_stack(args.api_key, args.log_dir) as base_url:
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        print(f"BASE_URL={base_url}", flush=True)
        signal.sigwait(stop_signals)


if __name__ == "__main__":
    main()

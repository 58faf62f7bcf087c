"""``python -m dev.standin``, as Getting started runs it: it prints the connection, and that connection works."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_stand_in_starts_alone_and_prints_a_connection_that_works() -> None:
    port = free_port()
    command = [sys.executable, "-m", "dev.standin", "--port", str(port), "--api-key", "sk-entry"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = process.stdout.readline()
        export = process.stdout.readline()
        assert banner.startswith(f"OpenAI stand-in on http://127.0.0.1:{port} (base URL without /v1)"), banner
        name, _, value = export.removeprefix("export ").strip().partition("=")
        conn = json.loads(value.strip("'"))
        assert name == "AIRFLOW_CONN_OPENAI_FUSION_DEFAULT"
        assert conn == {"conn_type": "openai_fusion", "host": f"http://127.0.0.1:{port}", "password": "sk-entry"}
        headers = {"Authorization": f"Bearer {conn['password']}"}
        for _ in range(100):  # up to 10 s for uvicorn to listen
            try:
                answer = httpx.get(f"{conn['host']}/models", headers=headers, timeout=5)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["data"], answer.text
        assert httpx.get(f"{conn['host']}/models", timeout=5).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()

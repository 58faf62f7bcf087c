"""
The stand-in application: auth, request ids, and the routes of every API area.

Run: ``python -m dev.standin`` (defaults ``--port 4999 --api-key sk-test``; binds 127.0.0.1 only). Its base URL is
``http://127.0.0.1:<port>``, without ``/v1``: it prints the connection to use.
"""

from __future__ import annotations

import argparse
import hmac
import json

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from dev.standin import (
    audio,
    batches,
    embeddings,
    files,
    fine_tuning,
    images,
    models,
    responses,
    speech,
    text,
    uploads,
    vector_stores,
)
from dev.standin.common import State, error

AREAS = (
    models,
    text,
    embeddings,
    images,
    audio,
    speech,
    files,
    fine_tuning,
    responses,
    batches,
    uploads,
    vector_stores,
)


class BearerAuth(BaseHTTPMiddleware):
    """Accept only ``Authorization: Bearer <the configured key>``, as OpenAI does."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        expected = f"Bearer {request.app.state.standin.api_key}"
        given = request.headers.get("authorization", "")
        if not given:
            return error(401, "You didn't provide an API key.", type_="invalid_request_error")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return error(401, "Incorrect API key provided.", type_="invalid_request_error", code="invalid_api_key")
        return await call_next(request)


def create_app(api_key: str, job_step_seconds: float = 1.0) -> Starlette:
    """
    Build the stand-in.

    :param api_key: the only key it accepts.
    :param job_step_seconds: how long a fine-tuning job stays in each status.
    """
    app = Starlette(routes=[route for area in AREAS for route in area.routes], middleware=[Middleware(BearerAuth)])
    app.state.standin = State(api_key=api_key, job_step_seconds=job_step_seconds)
    return app


def connection_line(port: int, api_key: str) -> str:
    """
    The shell line that points ``openai_fusion_default`` at a stand-in on ``port``.

    :param port: the stand-in's port on 127.0.0.1.
    :param api_key: the key it accepts.
    """
    conn = json.dumps({"conn_type": "openai_fusion", "host": f"http://127.0.0.1:{port}", "password": api_key})
    return f"export AIRFLOW_CONN_OPENAI_FUSION_DEFAULT='{conn}'"


def main(argv: list[str] | None = None) -> None:
    """
    Serve the stand-in on 127.0.0.1 until interrupted, after printing the connection that reaches it.

    :param argv: the command line (default: ``sys.argv``).
    """
    import uvicorn

    parser = argparse.ArgumentParser(description="The local OpenAI stand-in (no key, no network needed).")
    parser.add_argument("--port", type=int, default=4999)
    parser.add_argument("--api-key", default="sk-test")
    parser.add_argument("--job-step-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    print(f"OpenAI stand-in on http://127.0.0.1:{args.port} (base URL without /v1), key {args.api_key}", flush=True)
    print(connection_line(args.port, args.api_key), flush=True)
    uvicorn.run(create_app(args.api_key, args.job_step_seconds), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

"""
The stand-in application: auth, request ids, and the routes of every API area.

Run: ``python -m dev.standin`` (defaults ``--port 4999 --api-key sk-test``; binds 127.0.0.1 only). Its base URL is
``http://127.0.0.1:<port>``, without ``/v1``: it prints the connection to use.
"""

from __future__ import annotations

import argparse
import hmac
import json
from collections.abc import Mapping
from datetime import date

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
    organization,
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
    organization,
)


class BearerAuth(BaseHTTPMiddleware):
    """Accept only ``Authorization: Bearer <the configured key>``, as OpenAI does."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path.startswith("/organization/"):  # the admin key, checked by those routes
            return await call_next(request)
        expected = f"Bearer {request.app.state.standin.api_key}"
        given = request.headers.get("authorization", "")
        if not given:
            return error(401, "You didn't provide an API key.", type_="invalid_request_error")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return error(401, "Incorrect API key provided.", type_="invalid_request_error", code="invalid_api_key")
        return await call_next(request)


def create_app(
    api_key: str, job_step_seconds: float = 1.0, shutdown_dates: Mapping[str, str | None] | None = None
) -> Starlette:
    """
    Build the stand-in.

    :param api_key: the only key it accepts.
    :param job_step_seconds: how long a fine-tuning job stays in each status.
    :param shutdown_dates: the ``shutdown_date`` ``GET /models`` gives these models (``None``: not announced),
        instead of OpenAI's dates from the retirement table.
    """
    app = Starlette(routes=[route for area in AREAS for route in area.routes], middleware=[Middleware(BearerAuth)])
    from dev.standin.webhooks import sender_from_env

    app.state.standin = State(
        api_key=api_key,
        job_step_seconds=job_step_seconds,
        shutdown_dates=dict(shutdown_dates or {}),
        webhooks=sender_from_env(),
    )
    return app


def shutdown_date_option(text: str) -> tuple[str, str | None]:
    """
    Parse ``--shutdown-date MODEL=YYYY-MM-DD`` (or ``MODEL=null``).

    :param text: the option's value.
    """
    model, _, day = text.partition("=")
    if not model or not day:
        raise argparse.ArgumentTypeError(f"expected MODEL=YYYY-MM-DD or MODEL=null, got {text!r}")
    if day == "null":
        return model, None
    try:
        return model, date.fromisoformat(day).isoformat()
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from error


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
    parser.add_argument(
        "--shutdown-date",
        type=shutdown_date_option,
        action="append",
        default=[],
        metavar="MODEL=YYYY-MM-DD",
        help="the shutdown_date GET /models gives MODEL (MODEL=null: none announced); repeatable",
    )
    args = parser.parse_args(argv)
    print(f"OpenAI stand-in on http://127.0.0.1:{args.port} (base URL without /v1), key {args.api_key}", flush=True)
    print(connection_line(args.port, args.api_key), flush=True)
    app = create_app(args.api_key, args.job_step_seconds, dict(args.shutdown_date))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

"""
The two thin I/O drivers of ``_core``: one over ``httpx.Client``, one over ``httpx.AsyncClient``.

Each driver sends a :class:`~airflow_provider_openai_fusion._core.RequestSpec`, feeds every outcome to a
:class:`~airflow_provider_openai_fusion._core.RetryState`, sleeps when told to, and hands a successful
response to a *sink* that reads it (JSON, raw, or streamed to a file). A sink that breaks mid-body
(connection reset, truncated body, stalled read) counts as a failed attempt, so downloads restart whole.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from airflow_provider_openai_fusion._core import (
    REDACTED,
    ClientSettings,
    RequestSpec,
    RetryState,
    build_headers,
    decode_json,
    redact_headers,
    request_arguments,
)

T = TypeVar("T")
log = logging.getLogger("airflow_provider_openai_fusion")


@dataclass(frozen=True)
class RawResponse:
    """
    A whole answer, for calls whose body is not necessarily JSON.

    :param status_code: the HTTP status.
    :param headers: the response headers, lower-cased names.
    :param content: the body.
    """

    status_code: int
    headers: dict[str, str]
    content: bytes


def _after_error(state: RetryState, response: httpx.Response, settings: ClientSettings) -> float:
    """
    Feed a read error answer to ``state``: the delay before the next attempt, or the mapped error raised.
    Any echo of the API key in the body (a proxy quoting the request) is replaced first.
    """
    body = response.content.replace(settings.api_key.encode(), REDACTED.encode())
    return state.after_status(response.status_code, response.headers, body)


def _request_id(response: httpx.Response) -> str | None:
    return response.headers.get("x-request-id")


def _log_attempt(request: httpx.Request, state: RetryState) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s (attempt %d) headers=%s",
            request.method,
            request.url,
            state.retries_done + 1,
            redact_headers(request.headers),
        )


def _log_retry(spec: RequestSpec, state: RetryState, delay: float, reason: BaseException | str) -> None:
    log.warning(
        "Retrying %s %s in %.2f s (retry %d of %d) after: %s",
        spec.method,
        spec.path,
        delay,
        state.retries_done,
        state.max_retries,
        reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}",
    )


def _client_options(settings: ClientSettings) -> dict[str, Any]:
    """The options both clients are built with: shared TLS context, timeouts, fixed headers, no redirects."""
    return {
        "verify": _tls_context(),
        "timeout": httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
        "headers": build_headers(settings),
        "follow_redirects": False,
    }


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client: building one loads the CA bundle (about 40 ms, in the event loop)."""
    return httpx.create_ssl_context()


class _AtomicFile:
    """A file written under a temporary name beside ``path`` and renamed onto it only when complete."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        self.path = path
        self.temp = Path(name)
        self.handle = os.fdopen(fd, "wb")

    def commit(self) -> Path:
        self.handle.close()
        os.replace(self.temp, self.path)
        return self.path

    def discard(self) -> None:
        self.handle.close()
        self.temp.unlink(missing_ok=True)


def read_json(response: httpx.Response) -> Any:
    """Sink: the body decoded as JSON."""
    return decode_json(response.read(), _request_id(response))


def read_raw(response: httpx.Response) -> RawResponse:
    """Sink: the whole answer."""
    return RawResponse(response.status_code, dict(response.headers), response.read())


def write_to(path: Path) -> Callable[[httpx.Response], Path]:
    """Sink factory: stream the body to ``path`` (atomically); returns the path."""

    def sink(response: httpx.Response) -> Path:
        target = _AtomicFile(path)
        try:
            for chunk in response.iter_bytes():  # as read (64 KiB): re-chunking to 1 MiB halves the throughput
                target.handle.write(chunk)
        except BaseException:
            target.discard()
            raise
        return target.commit()

    return sink


async def aread_json(response: httpx.Response) -> Any:
    """Async sink: the body decoded as JSON."""
    return decode_json(await response.aread(), _request_id(response))


async def aread_raw(response: httpx.Response) -> RawResponse:
    """Async sink: the whole answer."""
    return RawResponse(response.status_code, dict(response.headers), await response.aread())


def awrite_to(path: Path) -> Callable[[httpx.Response], Awaitable[Path]]:
    """Async sink factory: stream the body to ``path`` (atomically); returns the path."""

    async def sink(response: httpx.Response) -> Path:
        target = _AtomicFile(path)
        try:
            async for chunk in response.aiter_bytes():
                target.handle.write(chunk)
        except BaseException:
            target.discard()
            raise
        return target.commit()

    return sink


class SyncDriver:
    """
    Sends requests with one reused ``httpx.Client``.

    :param settings: the client settings.
    :param transport: an httpx transport (``httpx.MockTransport`` in tests); the default opens real sockets.
    """

    def __init__(self, settings: ClientSettings, transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings
        self._client = httpx.Client(transport=transport, **_client_options(settings))

    def send(self, spec: RequestSpec, sink: Callable[[httpx.Response], T]) -> T:
        """
        Send ``spec`` with retries and give the successful answer to ``sink``.

        :param spec: the call.
        :param sink: reads the successful answer.
        """
        state = RetryState(self._settings.max_retries)
        while True:
            try:
                with spec.open_files() as files:
                    request = self._client.build_request(**request_arguments(self._settings, spec, files))
                    _log_attempt(request, state)
                    response = self._client.send(request, stream=True)
                    try:
                        if response.status_code < 300:
                            return sink(response)
                        response.read()
                        delay = _after_error(state, response, self._settings)
                        reason: BaseException | str = f"HTTP {response.status_code}"
                    finally:
                        response.close()
            except httpx.TransportError as exc:
                delay = state.after_transport_error(exc, timed_out=isinstance(exc, httpx.TimeoutException))
                reason = exc
            _log_retry(spec, state, delay, reason)
            time.sleep(delay)

    def close(self) -> None:
        """Close the client and its connections."""
        self._client.close()


class AsyncDriver:
    """
    Sends requests with one reused ``httpx.AsyncClient``; never blocks the event loop while waiting.

    :param settings: the client settings.
    :param transport: an httpx transport (``httpx.MockTransport`` in tests); the default opens real sockets.
    """

    def __init__(self, settings: ClientSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(transport=transport, **_client_options(settings))

    async def send(self, spec: RequestSpec, sink: Callable[[httpx.Response], Awaitable[T]]) -> T:
        """
        Send ``spec`` with retries and give the successful answer to ``sink``.

        :param spec: the call.
        :param sink: reads the successful answer.
        """
        state = RetryState(self._settings.max_retries)
        while True:
            try:
                with spec.open_files() as files:
                    request = self._client.build_request(**request_arguments(self._settings, spec, files))
                    _log_attempt(request, state)
                    response = await self._client.send(request, stream=True)
                    try:
                        if response.status_code < 300:
                            return await sink(response)
                        await response.aread()
                        delay = _after_error(state, response, self._settings)
                        reason: BaseException | str = f"HTTP {response.status_code}"
                    finally:
                        await response.aclose()
            except httpx.TransportError as exc:
                delay = state.after_transport_error(exc, timed_out=isinstance(exc, httpx.TimeoutException))
                reason = exc
            _log_retry(spec, state, delay, reason)
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        """Close the client and its connections."""
        await self._client.aclose()

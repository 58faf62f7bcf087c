"""
The two thin I/O drivers: one over ``httpx.Client``, one over ``httpx.AsyncClient``.

Each driver sends a :class:`~airflow_provider_openai_fusion._http.request.RequestSpec`, feeds every outcome to a
:class:`~airflow_provider_openai_fusion._http.retry.RetryState`, sleeps when told to, and hands a successful
answer to a *sink* that reads it into one :class:`Response` (the decoded body, or the path of a file it was
streamed to). A sink that breaks mid-body (connection reset, truncated body, stalled read) counts as a failed
attempt, so downloads restart whole. Bodies are read within ``spec.max_bytes`` and, for decoded bodies, within
one deadline per attempt; every decoded body and error body has the API key replaced.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from airflow_provider_openai_fusion._atomic import AtomicFile
from airflow_provider_openai_fusion._http.errors import MAX_ERROR_BYTES, decode_json
from airflow_provider_openai_fusion._http.request import (
    ClientSettings,
    RequestSpec,
    build_headers,
    redact,
    redact_headers,
    request_arguments,
)
from airflow_provider_openai_fusion._http.retry import RetryState
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError

log = logging.getLogger("airflow_provider_openai_fusion")


@dataclass(frozen=True)
class Response:
    """
    One answer, read: the status, the headers (lower-cased names, key redacted) and either the decoded body or
    the path of the file the body was streamed to.

    :param status_code: the HTTP status.
    :param headers: the response headers.
    :param body: the decoded body: JSON, text, or bytes for a binary body; ``None`` when streamed to a file.
    :param path: the file the body was written to, for downloads.
    """

    status_code: int
    headers: Mapping[str, str]
    body: Any = None
    path: Path | None = None


@dataclass(frozen=True)
class Sink:
    """
    How to read a successful answer: decode it (``json``: JSON or an error; ``auto``: JSON when the content type
    says so and it parses, text when it is UTF-8, else bytes), or stream it to ``path``.

    :param decode: ``json`` or ``auto``; ignored when ``path`` is set.
    :param path: stream the body to this local file (atomically).
    """

    decode: str = "json"
    path: Path | None = None


def _too_big(spec: RequestSpec, request_id: str | None) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"the answer to {spec.label} is larger than the {spec.max_bytes:,}-byte cap for this call",
        request_id=request_id,
    )


def _decoded(spec: RequestSpec, sink: Sink, response: httpx.Response, body: bytes, secret: str) -> Response:
    headers = {name: redact(value, secret) for name, value in response.headers.items()}
    request_id = headers.get("x-request-id")
    content_type = headers.get("content-type", "")
    if sink.decode == "json":
        value: Any = decode_json(body, request_id)
    elif not body:
        value = None
    elif "json" in content_type:
        try:
            value = decode_json(body, request_id)
        except APIResponseValidationError:
            value = body.decode("utf-8", "replace")
    else:
        try:
            value = body.decode("utf-8")
        except UnicodeDecodeError:
            value = body
    if secret and (secret.encode() in body or b"\\u" in body):  # the key as sent, or JSON-escaped
        value = redact(value, secret)
    return Response(response.status_code, headers, value)


class _Reader:
    """Collects a body within the call's byte cap and the attempt's deadline."""

    def __init__(self, spec: RequestSpec, response: httpx.Response, deadline: float | None) -> None:
        self.spec = spec
        self.request_id = response.headers.get("x-request-id")
        self.deadline = deadline
        self.size = 0

    def check(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        if self.size > self.spec.max_bytes:
            raise _too_big(self.spec, self.request_id)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise httpx.ReadTimeout("the answer did not arrive whole within the timeout")
        return chunk


def _after_error(state: RetryState, response: httpx.Response, body: bytes, secret: str) -> float:
    """Feed an error answer to ``state``: the delay before the next attempt, or the mapped error raised."""
    return state.after_status(response.status_code, response.headers, redact(body, secret))


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


def _deadline(settings: ClientSettings, sink: Sink) -> float | None:
    """Decoded bodies must arrive whole within the timeout; streamed downloads are bounded per read only."""
    return None if sink.path is not None else time.monotonic() + settings.timeout


def _transport_error(state: RetryState, exc: httpx.TransportError) -> float:
    return state.after_transport_error(exc, timed_out=isinstance(exc, httpx.TimeoutException))


class SyncDriver:
    """
    Sends requests with one reused ``httpx.Client``.

    :param settings: the client settings.
    :param transport: an httpx transport (``httpx.MockTransport`` in tests); the default opens real sockets.
    """

    def __init__(self, settings: ClientSettings, transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings
        self._client = httpx.Client(transport=transport, **_client_options(settings))

    def _read(self, spec: RequestSpec, sink: Sink, response: httpx.Response, deadline: float | None) -> Response:
        reader = _Reader(spec, response, deadline)
        if sink.path is None:
            body = b"".join(reader.check(chunk) for chunk in response.iter_bytes())
            return _decoded(spec, sink, response, body, self._settings.api_key)
        target = AtomicFile(sink.path)
        try:
            for chunk in response.iter_bytes():  # as read (64 KiB): re-chunking to 1 MiB halves the throughput
                target.handle.write(reader.check(chunk))
        except BaseException:
            target.discard()
            raise
        return Response(response.status_code, dict(response.headers), path=target.commit())

    def send(self, spec: RequestSpec, sink: Sink) -> Response:
        """
        Send ``spec`` with retries and read the successful answer as ``sink`` says.

        :param spec: the call.
        :param sink: how to read the successful answer.
        """
        state = RetryState(self._settings.max_retries)
        while True:
            try:
                with spec.open_files() as files:
                    request = self._client.build_request(**request_arguments(self._settings, spec, files))
                    _log_attempt(request, state)
                    deadline = _deadline(self._settings, sink)
                    response = self._client.send(request, stream=True)
                    try:
                        if response.status_code < 300:
                            return self._read(spec, sink, response, deadline)
                        body = b""
                        for chunk in response.iter_bytes():
                            body += chunk
                            if len(body) >= MAX_ERROR_BYTES:
                                break
                        delay = _after_error(state, response, body, self._settings.api_key)
                        reason: BaseException | str = f"HTTP {response.status_code}"
                    finally:
                        response.close()
            except httpx.TransportError as exc:
                delay, reason = _transport_error(state, exc), exc
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

    async def _read(self, spec: RequestSpec, sink: Sink, response: httpx.Response, deadline: float | None) -> Response:
        reader = _Reader(spec, response, deadline)
        if sink.path is None:
            body = b"".join([reader.check(chunk) async for chunk in response.aiter_bytes()])
            return _decoded(spec, sink, response, body, self._settings.api_key)
        target = AtomicFile(sink.path)
        try:
            async for chunk in response.aiter_bytes():
                target.handle.write(reader.check(chunk))
        except BaseException:
            target.discard()
            raise
        return Response(response.status_code, dict(response.headers), path=target.commit())

    async def send(self, spec: RequestSpec, sink: Sink) -> Response:
        """
        Send ``spec`` with retries and read the successful answer as ``sink`` says.

        :param spec: the call.
        :param sink: how to read the successful answer.
        """
        state = RetryState(self._settings.max_retries)
        while True:
            try:
                with spec.open_files() as files:
                    request = self._client.build_request(**request_arguments(self._settings, spec, files))
                    _log_attempt(request, state)
                    deadline = _deadline(self._settings, sink)
                    response = await self._client.send(request, stream=True)
                    try:
                        if response.status_code < 300:
                            return await self._read(spec, sink, response, deadline)
                        body = b""
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) >= MAX_ERROR_BYTES:
                                break
                        delay = _after_error(state, response, body, self._settings.api_key)
                        reason: BaseException | str = f"HTTP {response.status_code}"
                    finally:
                        await response.aclose()
            except httpx.TransportError as exc:
                delay, reason = _transport_error(state, exc), exc
            _log_retry(spec, state, delay, reason)
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        """Close the client and its connections."""
        await self._client.aclose()

"""
The two thin I/O drivers: one over ``httpx.Client``, one over ``httpx.AsyncClient``.

Each driver sends a :class:`~airflow_provider_openai_fusion._http.request.RequestSpec`, feeds every outcome to a
:class:`~airflow_provider_openai_fusion._http.retry.RetryState`, sleeps when told to, and hands a successful
answer to a *sink* that reads it into one :class:`Response` (the decoded body, or the path of a file it was
streamed to). A sink that breaks mid-body (connection reset, truncated body, stalled read) counts as a failed
attempt, so downloads restart whole. Every attempt runs within one deadline (``deadline.py``: connect, send, the
response head and the body), bodies within ``spec.max_bytes`` (decompressed) and a sane compression ratio; a
request that is not valid HTTP fails at once, never retried, its text never shown; every header, body and
error text has the API key replaced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx

from airflow_provider_openai_fusion._atomic import AtomicFile
from airflow_provider_openai_fusion._http.deadline import MIN_DOWNLOAD_RATE, Budget, attempt_budget, bound_transports
from airflow_provider_openai_fusion._http.errors import MAX_ERROR_BYTES, decode_json
from airflow_provider_openai_fusion._http.redaction import redact, redact_decoded, redact_headers
from airflow_provider_openai_fusion._http.request import ClientSettings, RequestSpec, build_headers, request_arguments
from airflow_provider_openai_fusion._http.retry import RetryState
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError

log = logging.getLogger("airflow_provider_openai_fusion")
MAX_COMPRESSION_RATIO = 200
RATIO_CHECKED_AFTER = 8 * 1024 * 1024
PROTOCOL_ERRORS = (httpx.LocalProtocolError, httpx.UnsupportedProtocol, UnicodeEncodeError)
"""Errors of a request that is not valid HTTP, while it is sent: never retried, their text never shown."""


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
    says so and it parses, text when it is UTF-8, else bytes; ``later``: the raw bytes, for
    :func:`decode_json_answer` once the connection is free for the next call), or stream it to ``path``.

    :param decode: ``json``, ``auto`` or ``later``; ignored when ``path`` is set.
    :param path: stream the body to this local file (atomically).
    """

    decode: str = "json"
    path: Path | None = None


def _too_big(spec: RequestSpec, request_id: str | None) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"the answer to {spec.label} is larger than the {spec.max_bytes:,}-byte cap for this call",
        request_id=request_id,
    )


def _headers(response: httpx.Response, secret: str) -> httpx.Headers:
    """The answer's headers with the key replaced in every value (a request id may echo it)."""
    return httpx.Headers({name: redact(value, secret) for name, value in response.headers.items()})


def _json(body: bytes, request_id: str | None, secret: str) -> Any:
    return redact_decoded(decode_json(body, request_id), body, secret)


def _decoded(spec: RequestSpec, sink: Sink, response: httpx.Response, body: bytes, secret: str) -> Response:
    headers = dict(_headers(response, secret).items())
    request_id = headers.get("x-request-id")
    content_type = headers.get("content-type", "")
    if sink.decode == "later":
        return Response(response.status_code, headers, body)
    if sink.decode == "json":
        return Response(response.status_code, headers, _json(body, request_id, secret))
    if not body:
        return Response(response.status_code, headers)
    if "json" in content_type:
        try:
            return Response(response.status_code, headers, _json(body, request_id, secret))
        except APIResponseValidationError:
            value: Any = body.decode("utf-8", "replace")
    else:
        try:
            value = body.decode("utf-8")
        except UnicodeDecodeError:
            value = body
    return Response(response.status_code, headers, redact_decoded(value, body, secret))


async def decode_json_answer(answer: Response, secret: str) -> Response:
    """
    Decode an answer read with ``Sink("later")`` as JSON (or raise
    :class:`~airflow_provider_openai_fusion.exceptions.APIResponseValidationError`), the API key redacted; first
    let the event loop run once, so that a call waiting for the connection this answer freed goes out before it.

    :param answer: the answer, its body still bytes.
    :param secret: the API key.
    """
    await asyncio.sleep(0)
    return dataclasses.replace(answer, body=_json(answer.body, answer.headers.get("x-request-id"), secret))


class _Reader:
    """
    Collects a body within the call's byte cap (counted after decompression) and a sane compression ratio; a
    download's chunks buy it more time (see ``deadline.py``).
    """

    def __init__(self, spec: RequestSpec, response: httpx.Response, budget: Budget, secret: str) -> None:
        self.spec = spec
        self.response = response
        self.secret = secret
        self.budget = budget
        self.size = 0

    @property
    def request_id(self) -> str | None:
        """The answer's ``x-request-id`` (key replaced), for an error."""
        return cast("str | None", redact(self.response.headers.get("x-request-id"), self.secret))

    def check(self, chunk: bytes, download: bool = False) -> bytes:
        self.size += len(chunk)
        if self.size > self.spec.max_bytes:
            raise _too_big(self.spec, self.request_id)
        if self.size > RATIO_CHECKED_AFTER:
            raw = max(self.response.num_bytes_downloaded, 1)
            if self.size > raw * MAX_COMPRESSION_RATIO:
                raise APIResponseValidationError(
                    f"the answer to {self.spec.label} expands from {raw:,} compressed bytes to more than "
                    f"{self.size:,} (over {MAX_COMPRESSION_RATIO}:1); refused as a decompression bomb",
                    request_id=self.request_id,
                )
        if download:
            self.budget.extend(len(chunk) / MIN_DOWNLOAD_RATE)
        return chunk


def _after_error(state: RetryState, response: httpx.Response, body: bytes, secret: str) -> float:
    """Feed an error answer to ``state``: the delay before the next attempt, or the mapped error raised."""
    return state.after_status(response.status_code, _headers(response, secret), redact(body, secret))


def _build(client: httpx.Client | httpx.AsyncClient, settings: ClientSettings, spec: RequestSpec, files: Any) -> Any:
    """Build one attempt's request; a URL, header or body that httpx cannot encode is refused here."""
    try:
        return client.build_request(**request_arguments(settings, spec, files))
    except (httpx.InvalidURL, ValueError) as exc:  # UnicodeEncodeError and a NaN in the JSON body are ValueErrors
        raise _refused(spec, exc) from None


def _refused(spec: RequestSpec, exc: Exception) -> InvalidArgumentError:
    """A request httpx cannot send as given; the exception's own text may hold header values, so it is dropped."""
    return InvalidArgumentError(
        "request",
        f"{spec.label} is not a valid HTTP request ({type(exc).__name__}: a header, the URL or the body cannot be "
        "sent as given); nothing was sent",
    )


def _log_attempt(request: httpx.Request, state: RetryState) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s (attempt %d) headers=%s",
            request.method,
            request.url,
            state.retries_done + 1,
            redact_headers(request.headers),
        )


def _log_retry(spec: RequestSpec, state: RetryState, delay: float, reason: str) -> None:
    log.warning(
        "Retrying %s %s in %.2f s (retry %d of %d) after: %s",
        spec.method,
        spec.path,
        delay,
        state.retries_done,
        state.max_retries,
        reason,
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


def _transport_error(state: RetryState, exc: httpx.TransportError, secret: str) -> tuple[float, str]:
    """Feed a transport failure to ``state``; return the delay and the reason to log (key replaced)."""
    reason = redact(f"{type(exc).__name__}: {exc}", secret)
    return state.after_transport_error(exc, timed_out=isinstance(exc, httpx.TimeoutException), text=reason), reason


class SyncDriver:
    """
    Sends requests with one reused ``httpx.Client``.

    :param settings: the client settings.
    :param transport: an httpx transport (``httpx.MockTransport`` in tests); the default opens real sockets.
    """

    def __init__(self, settings: ClientSettings, transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings
        self._client = httpx.Client(transport=transport, **_client_options(settings))
        bound_transports([self._client._transport, *self._client._mounts.values()])

    def _read(self, spec: RequestSpec, sink: Sink, response: httpx.Response, budget: Budget) -> Response:
        secret = self._settings.api_key
        reader = _Reader(spec, response, budget, secret)
        if sink.path is None:
            body = b"".join(reader.check(chunk) for chunk in response.iter_bytes())
            return _decoded(spec, sink, response, body, secret)
        target = AtomicFile(sink.path)
        try:
            for chunk in response.iter_bytes():  # as read (64 KiB): re-chunking to 1 MiB halves the throughput
                target.handle.write(reader.check(chunk, download=True))
        except BaseException:
            target.discard()
            raise
        return Response(response.status_code, dict(_headers(response, secret).items()), path=target.commit())

    def send(self, spec: RequestSpec, sink: Sink) -> Response:
        """
        Send ``spec`` with retries and read the successful answer as ``sink`` says.

        :param spec: the call.
        :param sink: how to read the successful answer.
        """
        state = RetryState(self._settings.max_retries)
        while True:
            try:
                with spec.open_files() as files, attempt_budget(self._settings.timeout) as budget:
                    request = _build(self._client, self._settings, spec, files)
                    _log_attempt(request, state)
                    response = self._client.send(request, stream=True)
                    try:
                        if response.status_code < 300:
                            return self._read(spec, sink, response, budget)
                        body = b""
                        for chunk in response.iter_bytes():
                            body += chunk
                            if len(body) >= MAX_ERROR_BYTES:
                                break
                        delay = _after_error(state, response, body, self._settings.api_key)
                        reason = f"HTTP {response.status_code}"
                    finally:
                        response.close()
            except PROTOCOL_ERRORS as exc:
                raise _refused(spec, exc) from None
            except httpx.TransportError as exc:
                delay, reason = _transport_error(state, exc, self._settings.api_key)
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
        bound_transports([self._client._transport, *self._client._mounts.values()])

    async def _read(self, spec: RequestSpec, sink: Sink, response: httpx.Response, budget: Budget) -> Response:
        secret = self._settings.api_key
        reader = _Reader(spec, response, budget, secret)
        if sink.path is None:
            body = b"".join([reader.check(chunk) async for chunk in response.aiter_bytes()])
            return _decoded(spec, sink, response, body, secret)
        target = AtomicFile(sink.path)
        try:
            async for chunk in response.aiter_bytes():
                target.handle.write(reader.check(chunk, download=True))
        except BaseException:
            target.discard()
            raise
        return Response(response.status_code, dict(_headers(response, secret).items()), path=target.commit())

    async def send(self, spec: RequestSpec, sink: Sink) -> Response:
        """
        Send ``spec`` with retries and read the successful answer as ``sink`` says.

        :param spec: the call.
        :param sink: how to read the successful answer.
        """
        state = RetryState(self._settings.max_retries)
        while True:
            try:
                with spec.open_files() as files, attempt_budget(self._settings.timeout) as budget:
                    request = _build(self._client, self._settings, spec, files)
                    _log_attempt(request, state)
                    response = await self._client.send(request, stream=True)
                    try:
                        if response.status_code < 300:
                            return await self._read(spec, sink, response, budget)
                        body = b""
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) >= MAX_ERROR_BYTES:
                                break
                        delay = _after_error(state, response, body, self._settings.api_key)
                        reason = f"HTTP {response.status_code}"
                    finally:
                        await response.aclose()
            except PROTOCOL_ERRORS as exc:
                raise _refused(spec, exc) from None
            except httpx.TransportError as exc:
                delay, reason = _transport_error(state, exc, self._settings.api_key)
            _log_retry(spec, state, delay, reason)
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        """Close the client and its connections."""
        await self._client.aclose()

"""
The two thin I/O drivers: one over ``httpx.Client``, one over ``httpx.AsyncClient``.

Each driver sends a :class:`~airflow_provider_openai_fusion._http.request.RequestSpec`, feeds every outcome to a
:class:`~airflow_provider_openai_fusion._http.retry.RetryState`, sleeps when told to, and hands a successful
answer to a *sink* that reads it into one :class:`Response` (the decoded body, or the path of a file it was
streamed to). A sink that breaks mid-body (connection reset, truncated body, stalled read) counts as a failed
attempt, so downloads restart whole. Every attempt runs within one deadline (``deadline.py``: connect, send, the
response head and the body), bodies within ``spec.max_bytes`` (decompressed) and a sane compression ratio; a
request that is not valid HTTP fails at once, never retried, its text never shown; every header, body and
error text has the API key replaced. Bodies are read raw and decoded here (``decoding.py``: one coding at most, in
steps of at most 1 MiB), so every size check sees the real bytes before the next step is decoded. A download is
also bounded by the file's declared size (the file object's ``bytes``, or ``Content-Length``) plus
:data:`DECLARED_SLACK`, and in time by a ceiling its own chunks cannot extend.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from airflow_provider_openai_fusion._atomic import AtomicFile
from airflow_provider_openai_fusion._http.deadline import (
    MAX_DOWNLOAD_SECONDS,
    MIN_DOWNLOAD_RATE,
    Budget,
    attempt_budget,
    bound_transports,
)
from airflow_provider_openai_fusion._http.decoding import ACCEPTED_ENCODINGS, ContentDecoder, codings
from airflow_provider_openai_fusion._http.errors import MAX_ERROR_BYTES, decode_json
from airflow_provider_openai_fusion._http.redaction import redact, redact_decoded, redact_headers, redact_values
from airflow_provider_openai_fusion._http.request import ClientSettings, RequestSpec, build_headers, request_arguments
from airflow_provider_openai_fusion._http.retry import RetryState
from airflow_provider_openai_fusion._http.telemetry import retry_event
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError

log = logging.getLogger("airflow_provider_openai_fusion")
MAX_COMPRESSION_RATIO = 200
RATIO_CHECKED_AFTER = 8 * 1024 * 1024
DECLARED_SLACK = 64 * 1024
"""How many bytes a download may exceed its declared size by (on top of 1 %) before it is refused."""
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
    :param size: the file's declared size (the file object's ``bytes``): the body may exceed it only by a slack.
    :param max_seconds: the most seconds a download may take in all, however fast its bytes keep coming; by
        default the timeout plus the declared size (else the call's cap) at 64 KiB/s, at most 6 hours.
    :param observer: sees a download's bytes as they are written (e.g. to index them while they are in memory).
    """

    decode: str = "json"
    path: Path | None = None
    size: int | None = None
    max_seconds: float | None = None
    observer: BodyObserver | None = None


class BodyObserver(Protocol):
    """Sees the bytes of a download as they are written: each attempt calls :meth:`restart`, then :meth:`feed`."""

    def restart(self) -> None:
        """A new attempt starts: the bytes start again from the first."""

    def feed(self, piece: bytes) -> None:
        """
        The next bytes of the body, decoded, as written to the file.

        :param piece: the bytes.
        """


def _too_big(spec: RequestSpec, request_id: str | None) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"the answer to {spec.label} is larger than the {spec.max_bytes:,}-byte cap for this call",
        request_id=request_id,
    )


def _headers(response: httpx.Response, secret: str) -> httpx.Headers:
    """The answer's headers with the key replaced in every value (a request id may echo it)."""
    return httpx.Headers(_header_dict(response, secret))


def _header_dict(response: httpx.Response, secret: str) -> dict[str, str]:
    """
    The answer's headers as a dict (names in lower case, repeated ones joined by ``, `` as ``Headers.items()``
    joins them), the key replaced in every value; decoded with the headers' encoding, looked up once.
    """
    headers = response.headers
    encoding = headers.encoding
    values: dict[str, str] = {}
    for key, value in headers.raw:
        name, text = key.lower().decode(encoding), value.decode(encoding)
        values[name] = f"{values[name]}, {text}" if name in values else text
    return redact_values(values.items(), secret)


def _json(body: bytes, request_id: str | None, secret: str) -> Any:
    return redact_decoded(decode_json(body, request_id), body, secret)


def _decoded(sink: Sink, response: httpx.Response, headers: dict[str, str], body: bytes, secret: str) -> Response:
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
    Decodes a body from its raw bytes (``decoding.py``) within the call's byte cap, the declared size of a download
    and a sane compression ratio, all counted on the decoded bytes; a download's chunks buy it more time, up to its
    ceiling (see ``deadline.py``). A body without ``Content-Encoding`` needs no decoder: its chunks are checked as
    they come. The answer's headers are read once, the key replaced (:attr:`headers`).
    """

    def __init__(self, spec: RequestSpec, sink: Sink, response: httpx.Response, budget: Budget, secret: str) -> None:
        self.spec = spec
        self.response = response
        self.budget = budget
        self.download = sink.path is not None
        self.headers = _header_dict(response, secret)
        self.request_id = self.headers.get("x-request-id")
        coding = _coding(response, self.headers)
        self.decoder = ContentDecoder(coding, spec.label, self.request_id) if coding else None
        self.size = 0
        self.declared = _declared(sink, self.headers) if self.download else None
        self.limit = spec.max_bytes
        if self.declared is not None:
            self.limit = min(self.limit, self.declared + self.declared // 100 + DECLARED_SLACK)
        if self.download:
            ceiling = budget.seconds + min(self.limit / MIN_DOWNLOAD_RATE, MAX_DOWNLOAD_SECONDS)
            budget.limit(sink.max_seconds if sink.max_seconds is not None else ceiling)

    def pieces(self, raw: bytes) -> Iterable[bytes]:
        """
        The decoded pieces of one raw chunk, each checked before the next is decoded.

        :param raw: the chunk as it came off the wire.
        """
        if self.download:
            self.budget.extend(len(raw) / MIN_DOWNLOAD_RATE)
        if self.decoder is None:
            return (self._check(raw),) if raw else ()
        return map(self._check, self.decoder.feed(raw))

    def finish(self) -> None:
        """Check that the body ended where its coding did."""
        if self.decoder is not None:
            self.decoder.finish()

    def _check(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.limit:
            if self.limit < self.spec.max_bytes:
                raise APIResponseValidationError(
                    f"the answer to {self.spec.label} is larger than the {self.declared:,} bytes the file is "
                    f"declared to hold (more than {self.limit:,} bytes arrived); refused",
                    request_id=self.request_id,
                )
            raise _too_big(self.spec, self.request_id)
        if self.size > RATIO_CHECKED_AFTER:
            raw = max(self.response.num_bytes_downloaded, 1)
            if self.size > raw * MAX_COMPRESSION_RATIO:
                raise APIResponseValidationError(
                    f"the answer to {self.spec.label} expands from {raw:,} compressed bytes to more than "
                    f"{self.size:,} (over {MAX_COMPRESSION_RATIO}:1); refused as a decompression bomb",
                    request_id=self.request_id,
                )
        return piece


def _coding(response: httpx.Response, headers: Mapping[str, str]) -> str | None:
    """
    The ``Content-Encoding`` left to decode: none once httpx has read the body (an in-memory test transport).

    :param response: the answer.
    :param headers: its headers (names in lower case, or a case-insensitive mapping).
    """
    return None if response.is_stream_consumed else headers.get("content-encoding")


def _raw(response: httpx.Response) -> Iterator[bytes]:
    """The body as it came off the wire (or, already read by an in-memory test transport, as it was read)."""
    return iter((response.content,)) if response.is_stream_consumed else response.iter_raw()


async def _araw(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it came off the wire (async); see :func:`_raw`."""
    if response.is_stream_consumed:
        yield response.content
        return
    async for raw in response.aiter_raw():
        yield raw


def _observe(sink: Sink) -> Callable[[bytes], None]:
    """What a download does with each piece besides writing it: tell the sink's observer (restarted), if any."""
    if sink.observer is None:
        return _ignore
    sink.observer.restart()
    return sink.observer.feed


def _ignore(piece: bytes) -> None:
    """A download's pieces without an observer."""


def _declared(sink: Sink, headers: Mapping[str, str]) -> int | None:
    """A download's declared size: the file object's, else an unencoded answer's ``Content-Length``."""
    if sink.size is not None:
        return sink.size
    length = headers.get("content-length", "")
    if not codings(headers.get("content-encoding")) and length.isdigit():
        return int(length)
    return None


def _error_reader(spec: RequestSpec, response: httpx.Response) -> ContentDecoder | None:
    """The decoder of an error answer's body (its first :data:`MAX_ERROR_BYTES`), or ``None`` when it cannot be."""
    try:
        return ContentDecoder(_coding(response, response.headers), spec.label, None, step=MAX_ERROR_BYTES)
    except APIResponseValidationError:
        return None  # an unknown coding: the error is mapped from its status alone


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
    retry_event(reason, delay, state.retries_done)
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
        "headers": {**build_headers(settings), "Accept-Encoding": ACCEPTED_ENCODINGS},
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
        reader = _Reader(spec, sink, response, budget, secret)
        if sink.path is None:
            body = b"".join(piece for raw in _raw(response) for piece in reader.pieces(raw))
            reader.finish()
            return _decoded(sink, response, reader.headers, body, secret)
        target, feed = AtomicFile(sink.path), _observe(sink)
        try:
            for raw in _raw(response):  # as read (64 KiB): re-chunking to 1 MiB halves the throughput
                for piece in reader.pieces(raw):
                    target.handle.write(piece)
                    feed(piece)
            reader.finish()
        except BaseException:
            target.discard()
            raise
        return Response(response.status_code, reader.headers, path=target.commit())

    def _error_body(self, spec: RequestSpec, response: httpx.Response) -> bytes:
        decoder, body = _error_reader(spec, response), b""
        if decoder is not None:
            with contextlib.suppress(APIResponseValidationError):  # corrupt: what was decoded is kept
                for raw in _raw(response):
                    body += b"".join(decoder.feed(raw))
                    if len(body) >= MAX_ERROR_BYTES:
                        break
        return body

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
                        body = self._error_body(spec, response)
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
    :param connections: the client's connections, all kept alive (a lane of a bulk run); httpx's pool by default.
    """

    def __init__(
        self,
        settings: ClientSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        connections: int | None = None,
    ) -> None:
        self._settings = settings
        options = _client_options(settings)
        if connections is not None:
            options["limits"] = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._client = httpx.AsyncClient(transport=transport, **options)
        bound_transports([self._client._transport, *self._client._mounts.values()])

    async def _read(self, spec: RequestSpec, sink: Sink, response: httpx.Response, budget: Budget) -> Response:
        secret = self._settings.api_key
        reader = _Reader(spec, sink, response, budget, secret)
        if sink.path is None:
            body = b"".join([piece async for raw in _araw(response) for piece in reader.pieces(raw)])
            reader.finish()
            return _decoded(sink, response, reader.headers, body, secret)
        target, feed = AtomicFile(sink.path), _observe(sink)
        try:
            async for raw in _araw(response):
                for piece in reader.pieces(raw):
                    target.handle.write(piece)
                    feed(piece)
            reader.finish()
        except BaseException:
            target.discard()
            raise
        return Response(response.status_code, reader.headers, path=target.commit())

    async def _error_body(self, spec: RequestSpec, response: httpx.Response) -> bytes:
        decoder, body = _error_reader(spec, response), b""
        if decoder is not None:
            with contextlib.suppress(APIResponseValidationError):  # corrupt: what was decoded is kept
                async for raw in _araw(response):
                    body += b"".join(decoder.feed(raw))
                    if len(body) >= MAX_ERROR_BYTES:
                        break
        return body

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
                        body = await self._error_body(spec, response)
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

"""
One deadline per attempt, covering everything: connecting, TLS, sending, the response head and the body.

httpx's timeouts bound each socket operation, so a server that trickles its status line, its headers or its
body one byte at a time never trips them. Here the network backend of both clients is wrapped: every connect,
read and write gets at most the time left of the attempt's :class:`Budget` (set by the driver around each
attempt, in a context variable, so concurrent async calls each have their own), and once it is spent the next
operation fails with a timeout, which the retry policy treats like any other timeout. A download's budget grows
with each chunk (:data:`MIN_DOWNLOAD_RATE`), so a large file that keeps coming is not cut off while a trickle is;
but never past its ceiling (:meth:`Budget.limit`: the timeout plus the file's declared size at that rate, at most
:data:`MAX_DOWNLOAD_SECONDS`), so a stream that never ends cannot extend its own deadline forever.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterable
from contextvars import ContextVar, Token
from typing import Any

import httpcore

MIN_DOWNLOAD_RATE = 64 * 1024
MAX_DOWNLOAD_SECONDS = 6 * 3600.0
_UNSET = object()
_BUDGET: ContextVar[Budget | None] = ContextVar("openai_fusion_attempt_budget", default=None)


class Budget:
    """
    The time left to one attempt; as a context manager, the budget of every socket operation inside.

    :param seconds: how long the attempt may take in all.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.ends = self.started + seconds
        self.ceiling = float("inf")
        self._token: Token[Budget | None] | None = None

    def __enter__(self) -> Budget:
        self._token = _BUDGET.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _BUDGET.reset(self._token)
            self._token = None

    def limit(self, seconds: float) -> None:
        """
        Set the most time the attempt may take in all, however much :meth:`extend` adds.

        :param seconds: the ceiling, counted from the attempt's start.
        """
        self.ceiling = seconds
        self.ends = min(self.ends, self.started + seconds)

    def extend(self, seconds: float) -> None:
        """
        Give the attempt more time (a download that keeps arriving), up to its ceiling.

        :param seconds: the extra time.
        """
        self.ends = min(self.ends + seconds, self.started + self.ceiling)

    def cap(self, timeout: float | None, error: type[Exception]) -> float | None:
        """
        The timeout of one socket operation: the smaller of its own and the time left; none left raises ``error``.

        :param timeout: the operation's own timeout.
        :param error: the httpcore timeout to raise when the budget is spent.
        """
        left = self.ends - time.monotonic()
        if left <= 0:
            if self.ends > self.started + self.seconds:
                raise error(f"the download did not complete within {self.ends - self.started:g} s (its ceiling)")
            raise error(f"the attempt did not complete within its {self.seconds:g} s timeout")
        return left if timeout is None else min(timeout, left)


def readable(sock: socket.socket | None) -> bool:
    """
    Whether a pooled connection's socket has something to read (for an idle one: the server closed it). httpcore
    asks this of every idle connection each time it assigns a request; its anyio backend finds the socket anew
    each time (a dict of attribute getters built per call), which was most of a bulk run's client CPU.

    :param sock: the connection's socket; ``None`` (unknown) counts as readable, as in httpcore.
    """
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _cap(timeout: float | None, error: type[Exception]) -> float | None:
    budget = _BUDGET.get()
    return timeout if budget is None else budget.cap(timeout, error)


def attempt_budget(seconds: float) -> Budget:
    """
    Run one attempt within ``seconds`` (``with attempt_budget(seconds) as budget:``): every socket operation
    inside gets at most the time left.

    :param seconds: the attempt's total time.
    """
    return Budget(seconds)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _cap(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _cap(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, _cap(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _Stream:
        timeout = _cap(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> _Stream:
        timeout = _cap(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket: Any = _UNSET

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, _cap(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, _cap(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Any:
        timeout = _cap(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            if self._socket is _UNSET:
                self._socket = self._stream.get_extra_info("socket")
            return readable(self._socket)
        return self._stream.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _AsyncStream:
        timeout = _cap(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> _AsyncStream:
        timeout = _cap(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._backend.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def bound_transports(transports: Iterable[Any]) -> None:
    """
    Wrap the network backend of httpx's default transports (the client's own and its proxy mounts) so that
    every socket operation respects the attempt's budget. Other transports (``httpx.MockTransport``) are left
    alone: they do no network I/O.

    :param transports: the client's transports.
    """
    for transport in transports:
        pool: Any = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, _Backend | _AsyncBackend):
            continue
        if isinstance(backend, httpcore.NetworkBackend):
            pool._network_backend = _Backend(backend)
        elif isinstance(backend, httpcore.AsyncNetworkBackend):
            pool._network_backend = _AsyncBackend(backend)

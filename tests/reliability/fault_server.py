"""
A fault-injecting HTTP/1.1 server on 127.0.0.1 for the reliability tests.

It speaks raw sockets (``asyncio.start_server``) so that it can misbehave in ways a web framework would not
allow: reset a connection before answering or in the middle of a body, stall, send fewer bytes than its
``Content-Length`` promised, trickle its status line, headers or body one byte at a time, leave a request body
unread. It runs in a background thread with its own event loop, so both the sync and
the async client of the hook can hit it. Each test scripts it with a list of behaviours (one per request,
the last one repeating) or a function of the request; the server records every request it received.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class Request:
    """One request as the server received it (header names lower-cased); ``cut`` when it was reset mid-body."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    cut: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


class Behaviour:
    """What the server does with one request; returns whether the connection may serve another one."""

    async def act(self, writer: asyncio.StreamWriter) -> bool:
        raise NotImplementedError


def _head(status: int, headers: dict[str, str], length: int) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(frozen=True)
class Reply(Behaviour):
    """A well-formed answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    async def act(self, writer: asyncio.StreamWriter) -> bool:
        writer.write(_head(self.status, self.headers, len(self.body)) + self.body)
        await writer.drain()
        return True


def json_reply(status: int, payload: Any, **headers: str) -> Reply:
    """A JSON answer; ``headers`` use ``_`` for ``-`` (``x_request_id="req_1"``)."""
    names = {name.replace("_", "-"): value for name, value in headers.items()}
    return Reply(status, {"Content-Type": "application/json", **names}, json.dumps(payload).encode())


def openai_error(status: int, message: str, error_type: str, code: str | None, **headers: str) -> Reply:
    """An error answer shaped like OpenAI's."""
    payload = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return json_reply(status, payload, **headers)


@dataclass(frozen=True)
class ResetBeforeResponse(Behaviour):
    """Read the request, then reset the connection (TCP RST) without a byte of answer."""

    async def act(self, writer: asyncio.StreamWriter) -> bool:
        _reset(writer)
        return False


@dataclass(frozen=True)
class ResetMidBody(Behaviour):
    """Send the head and ``sent`` bytes of ``body``, then reset the connection."""

    body: bytes
    sent: int
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    async def act(self, writer: asyncio.StreamWriter) -> bool:
        writer.write(_head(self.status, self.headers, len(self.body)) + self.body[: self.sent])
        await writer.drain()
        await asyncio.sleep(0.05)
        _reset(writer)
        return False


@dataclass(frozen=True)
class Truncated(Behaviour):
    """Promise ``len(body)`` bytes, send ``sent`` of them, then close the connection cleanly (FIN)."""

    body: bytes
    sent: int
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    async def act(self, writer: asyncio.StreamWriter) -> bool:
        writer.write(_head(self.status, self.headers, len(self.body)) + self.body[: self.sent])
        await writer.drain()
        writer.close()
        return False


@dataclass(frozen=True)
class Stall(Behaviour):
    """Send the head and ``sent`` bytes of ``body`` (``head=False``: nothing at all), then go silent."""

    body: bytes = b"{}"
    sent: int = 0
    head: bool = True
    seconds: float = 30.0

    async def act(self, writer: asyncio.StreamWriter) -> bool:
        if self.head:
            writer.write(_head(200, {"Content-Type": "application/json"}, len(self.body)) + self.body[: self.sent])
            await writer.drain()
        await asyncio.sleep(self.seconds)
        writer.close()
        return False


@dataclass(frozen=True)
class Trickle(Behaviour):
    """
    Send a well-formed answer one byte every ``interval`` seconds: the status line and headers too
    (``head=True``), or the head at once and then the body.
    """

    body: bytes = b"{}"
    interval: float = 0.05
    head: bool = True

    async def act(self, writer: asyncio.StreamWriter) -> bool:
        data = _head(200, {"Content-Type": "application/json"}, len(self.body))
        if self.head:
            data += self.body
        else:
            writer.write(data)
            data = self.body
        for index in range(len(data)):
            if writer.transport.is_closing():
                return False
            writer.write(data[index : index + 1])
            await writer.drain()
            await asyncio.sleep(self.interval)
        return True


@dataclass
class Endless(Behaviour):
    """
    A 200 answer in chunked framing that never ends: ``chunk`` every ``interval`` seconds until the client hangs
    up; ``sent`` counts the body bytes written.
    """

    chunk: bytes = b"x" * 8192
    interval: float = 0.0
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/octet-stream"})
    sent: int = 0

    async def act(self, writer: asyncio.StreamWriter) -> bool:
        lines = ["HTTP/1.1 200 OK", "Transfer-Encoding: chunked"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        frame = b"%x\r\n%s\r\n" % (len(self.chunk), self.chunk)
        while not writer.transport.is_closing():
            writer.write(frame)
            await writer.drain()
            self.sent += len(self.chunk)
            await asyncio.sleep(self.interval)
        return False


@dataclass(frozen=True)
class Streamed(Behaviour):
    """A 200 answer of ``body`` sent 1 MiB at a time, so the server holds no second copy of a large body."""

    body: bytes

    async def act(self, writer: asyncio.StreamWriter) -> bool:
        writer.write(_head(200, {"Content-Type": "application/octet-stream"}, len(self.body)))
        view = memoryview(self.body)
        for start in range(0, len(view), 1 << 20):
            writer.write(view[start : start + (1 << 20)])
            await writer.drain()
        return True


def gzip_reply(payload: bytes, content_type: str = "application/json", **headers: str) -> Reply:
    """An answer whose body is ``payload`` gzip-compressed (``Content-Encoding: gzip``)."""
    names = {name.replace("_", "-"): value for name, value in headers.items()}
    body = gzip.compress(payload, compresslevel=1)
    return Reply(200, {"Content-Type": content_type, "Content-Encoding": "gzip", **names}, body)


Responder = Behaviour | Callable[[Request], Behaviour]
CutRule = Callable[[str, str, dict[str, str]], int | None]


async def _read_request(
    reader: asyncio.StreamReader, read_body: bool = True, cut: CutRule | None = None
) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        return None
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep = cut(method, target, headers) if cut is not None else None
    if keep is not None:
        return Request(method, target, headers, await reader.readexactly(keep), cut=True)
    if not read_body:
        body = b""
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readline()).split(b";")[0], 16):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method, target, headers, body)


class FaultServer:
    """
    The server. Use :func:`running_fault_server` to start and stop it.

    :param host: the address to bind (always 127.0.0.1 in these tests).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.requests: list[Request] = []
        self.connections = 0
        self.read_bodies = True
        """Set to ``False`` to act on each request after its head, leaving its body unread (the client's send
        then blocks once the socket buffers are full)."""
        self._script: list[Responder] = [Reply(200, {"Content-Type": "application/json"}, b"{}")]
        self._cut: CutRule | None = None
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The API base URL to put in a connection."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def attempts(self) -> int:
        """How many requests arrived."""
        return len(self.requests)

    def script(self, *responders: Responder) -> None:
        """Answer the next requests with these, one each; the last one repeats."""
        with self._lock:
            self.requests.clear()
            self._script = list(responders)

    def cut_requests(self, rule: CutRule | None) -> None:
        """
        Reset the connection in the middle of a request's body: ``rule(method, target, headers)`` returns how
        many body bytes to read first, or ``None`` to read the request whole (the cut request is recorded).
        """
        self._cut = rule

    def _next(self, request: Request) -> Behaviour:
        with self._lock:
            self.requests.append(request)
            responder = self._script.pop(0) if len(self._script) > 1 else self._script[0]
        return responder if isinstance(responder, Behaviour) else responder(request)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while (request := await _read_request(reader, self.read_bodies, self._cut)) is not None:
                if request.cut:
                    with self._lock:
                        self.requests.append(request)
                    _reset(writer)
                    return
                if not await self._next(request).act(writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    def start(self) -> None:
        """Bind a free port and serve from the background thread."""
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, self.host, 0, backlog=512), self._loop
        )
        self._server = started.result(timeout=5)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close the listener and every open connection, then end the thread."""

        async def shutdown() -> None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


@contextmanager
def running_fault_server(host: str = "127.0.0.1") -> Iterator[FaultServer]:
    """A started :class:`FaultServer`, stopped on exit."""
    server = FaultServer(host)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

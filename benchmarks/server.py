"""
A minimal OpenAI-shaped HTTP/1.1 server for the benchmarks: raw asyncio streams (on uvloop when installed),
keep-alive, no framework, so that the server is never what a benchmark measures.

Routes (under ``/v1``):

- ``POST /chat/completions`` and ``POST /responses``: a fixed chat completion and a fixed model response (B2).
- ``POST /embeddings``: one ``dimensions``-long vector per input, after ``--latency`` seconds; at most
  ``--max-inputs`` inputs per request (400 beyond). Rate limits of ``--rpm`` requests and ``--tpm`` tokens (one
  per 4 bytes of input) per ``--rate-window`` seconds (a minute unless told), enforced as OpenAI does (token
  buckets that refill continuously) and announced in ``x-ratelimit-*`` headers (computed when the request is
  admitted); 429 with ``retry-after-ms`` when a request does not fit (B3). Unless told, the limits (a million
  requests and ten billion tokens a minute) never bind: at 10 million tokens a minute (OpenAI's tier 5 for
  embeddings), B3's back-to-back runs of 500,000 tokens each would rightly be paced by our client alone.
- ``GET /files/file-<size>`` and ``GET /files/file-<size>/content``: a file object, and ``<size>`` bytes
  generated on the fly (B4).
- ``POST /files``: the upload is read and discarded; the answer's ``bytes`` is the size of the body received.
- ``POST /uploads`` (+ ``/parts``, ``/complete``, ``/cancel``): parts are read and discarded; each part id carries
  the size of the body received, and the completed file's ``bytes`` is their sum.
- ``DELETE /files/<id>``: a deletion object.
- ``GET /bench/stats``: counters (embeddings inputs, most requests in flight, 429s sent).
- ``GET /fine_tuning/jobs/<id>/events``: one event.
- ``GET /fine_tuning/jobs/<id>``, ``GET /batches/<id>`` and ``GET /responses/<id>``: ``running`` /
  ``in_progress`` until ``--job-seconds`` after the first poll of that id, then ``succeeded`` / ``completed`` (B5).

Run: ``python -m benchmarks.server --port 0``; it prints ``PORT <n>`` once it listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import resource
import time

from benchmarks.api_objects import (
    CHAT_COMPLETION,
    RESPONSE,
    batch,
    file_object,
    fine_tuning_job,
    job_events,
    model_response,
)

CHUNK = b"\x5a" * (1 << 20)
BYTES_PER_TOKEN = 4
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests"}

DEFAULT_RPM = 1_000_000


class Server:
    """
    The routes and their state.

    :param latency: seconds each embeddings request waits before answering.
    :param max_inputs: inputs allowed in one embeddings request.
    :param rpm: embeddings requests allowed per rate-limit window.
    :param tpm: embeddings tokens allowed per rate-limit window (one token per 4 bytes of UTF-8 input).
    :param window: the rate-limit window in seconds (60, as OpenAI's per-minute limits, unless told).
    :param job_seconds: how long a job or batch runs after its first poll.
    """

    def __init__(self, latency: float, max_inputs: int, rpm: int, tpm: int, window: float, job_seconds: float) -> None:
        self.latency = latency
        self.max_inputs = max_inputs
        self.requests = Bucket(rpm, window)
        self.tokens = Bucket(tpm, window)
        self.job_seconds = job_seconds
        self.paced = latency > 0 or rpm < DEFAULT_RPM
        """Whether chat completions wait and count against the limits (B8); else they answer at once (B2)."""
        self.first_poll: dict[str, float] = {}
        self.stats = collections.Counter()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one keep-alive connection."""
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                path = target.split("?", 1)[0]
                keep = method == "POST" and path != "/v1/files" and not path.endswith("/parts")
                body, size = await read_body(reader, headers, keep)
                await self.route(method, target.split("?", 1)[0], body, size, writer)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except ConnectionError:
            return
        finally:
            writer.close()

    async def route(self, method: str, path: str, body: bytes, size: int, writer: asyncio.StreamWriter) -> None:
        """Answer one request."""
        if method == "POST" and path == "/v1/chat/completions" and not self.paced:
            writer.write(head(200, len(CHAT_COMPLETION)) + CHAT_COMPLETION)
        elif method == "POST" and path == "/v1/chat/completions":
            await self.chat(body, writer)
        elif method == "POST" and path == "/v1/responses":
            writer.write(head(200, len(RESPONSE)) + RESPONSE)
        elif method == "GET" and path.startswith("/v1/responses/"):
            response_id = path.split("/")[3]
            writer.write(answer(200, model_response(response_id, self.finished(response_id))))
        elif method == "POST" and path == "/v1/embeddings":
            await self.embeddings(json.loads(body), writer)
        elif method == "POST" and path == "/v1/files":
            writer.write(answer(200, file_object(f"file-{size}", size)))
        elif method == "POST" and path.startswith("/v1/uploads"):
            writer.write(answer(200, self.uploads(path, body, size)))
        elif path.startswith("/v1/files/") and method == "DELETE":
            writer.write(answer(200, {"id": path.rsplit("/", 1)[1], "object": "file", "deleted": True}))
        elif path.startswith("/v1/files/file-") and path.endswith("/content"):
            await stream_bytes(int(path.split("/")[3].removeprefix("file-")), writer)
        elif path.startswith("/v1/files/file-"):
            file_id = path.split("/")[3]
            writer.write(answer(200, file_object(file_id, int(file_id.removeprefix("file-")))))
        elif path.startswith("/v1/fine_tuning/jobs/") and path.endswith("/events"):
            writer.write(answer(200, job_events(path.split("/")[4])))
        elif path.startswith("/v1/fine_tuning/jobs/"):
            job_id = path.split("/")[4]
            writer.write(answer(200, fine_tuning_job(job_id, self.finished(job_id))))
        elif path.startswith("/v1/batches/"):
            batch_id = path.split("/")[3]
            writer.write(answer(200, batch(batch_id, self.finished(batch_id))))
        elif path == "/bench/stats":
            writer.write(answer(200, dict(self.stats)))
        else:
            error = {"message": f"no route {method} {path}", "type": "invalid_request_error"}
            writer.write(answer(404, {"error": error}))

    def uploads(self, path: str, body: bytes, size: int) -> dict:
        """The Uploads API: parts are read and thrown away, their ids carry the bytes received."""
        upload = {"id": "upload_bench", "object": "upload", "status": "pending", "filename": "bench.bin"}
        if path.endswith("/parts"):
            self.stats["upload_parts"] += 1
            return {"id": f"part_{self.stats['upload_parts']}_{size}", "object": "upload.part"}
        if path.endswith("/complete"):
            received = sum(int(part_id.rsplit("_", 1)[1]) for part_id in json.loads(body)["part_ids"])
            return {**upload, "status": "completed", "file": file_object(f"file-{received}", received)}
        if path.endswith("/cancel"):
            return {**upload, "status": "cancelled"}
        return {**upload, "bytes": json.loads(body)["bytes"]}

    def finished(self, object_id: str) -> bool:
        """Whether a job or batch is done: ``job_seconds`` after its first poll."""
        now = time.monotonic()
        return now - self.first_poll.setdefault(object_id, now) >= self.job_seconds

    def admitted(self, tokens: int, writer: asyncio.StreamWriter) -> bool:
        """Whether a request of ``tokens`` fits the rate limits now; if not, answer it 429 as OpenAI does."""
        now = time.monotonic()
        waits = [bucket.shortfall(cost, now) for bucket, cost in ((self.requests, 1), (self.tokens, tokens))]
        if max(waits) > 0:
            self.stats["rate_limited"] += 1
            kind = "requests" if waits[0] > 0 else "tokens"
            wait_ms = math.ceil(max(waits) * 1000)
            error = {"error": {"message": f"Rate limit reached for {kind}", "type": kind, "code": None}}
            writer.write(answer(429, error, self.rate_headers(now) + f"retry-after-ms: {wait_ms}\r\n"))
            return False
        self.requests.take(1, now)
        self.tokens.take(tokens, now)
        return True

    async def latency_in_flight(self) -> None:
        """Wait the answer's latency, counted as in flight (``max_in_flight`` keeps the most at once)."""
        self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self.stats["in_flight"] + 1)
        self.stats["in_flight"] += 1
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.stats["in_flight"] -= 1

    async def chat(self, body: bytes, writer: asyncio.StreamWriter) -> None:
        """
        Answer a chat completion after the latency, within the rate limits; tokens count as OpenAI counts them for
        the limit: the request's bytes / 4 plus ``max_completion_tokens``.
        """
        request = json.loads(body)
        cap = request.get("max_completion_tokens") or request.get("max_tokens") or 0
        tokens = math.ceil(len(body) / BYTES_PER_TOKEN) + cap
        if not self.admitted(tokens, writer):
            return
        self.stats["chat_requests"] += 1
        self.stats["chat_tokens"] += tokens
        await self.latency_in_flight()
        writer.write(head(200, len(CHAT_COMPLETION), self.rate_headers(time.monotonic())) + CHAT_COMPLETION)

    async def embeddings(self, request: dict, writer: asyncio.StreamWriter) -> None:
        """Answer an embeddings request after the latency, within the input cap and the rate limits."""
        inputs = request["input"] if isinstance(request["input"], list) else [request["input"]]
        tokens = sum(math.ceil(len(str(text).encode()) / BYTES_PER_TOKEN) for text in inputs)
        if len(inputs) > self.max_inputs:
            message = f"'$.input' is too long: {len(inputs)} inputs, at most {self.max_inputs} allowed."
            writer.write(answer(400, {"error": {"message": message, "type": "invalid_request_error"}}))
            return
        if not self.admitted(tokens, writer):
            return
        limits = self.rate_headers(time.monotonic())
        self.stats["requests"] += 1
        self.stats["inputs"] += len(inputs)
        self.stats["tokens"] += tokens
        await self.latency_in_flight()
        vector = "[" + ",".join(["0.125"] * int(request.get("dimensions") or 16)) + "]"
        items = ",".join(
            f'{{"object":"embedding","index":{index},"embedding":{vector}}}' for index in range(len(inputs))
        )
        body = (
            f'{{"object":"list","data":[{items}],"model":"{request["model"]}",'
            f'"usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}}}'
        ).encode()
        writer.write(head(200, len(body), limits) + body)

    def rate_headers(self, now: float) -> str:
        """OpenAI's rate-limit headers for requests and tokens, as the buckets stand at ``now``."""
        return self.requests.headers("requests", now) + self.tokens.headers("tokens", now)


class Bucket:
    """
    A rate limit as OpenAI enforces it: a bucket of ``limit`` that refills continuously over ``window`` seconds.
    Its headers announce the limit, what remains, and the time until the bucket is full again.

    :param limit: the bucket's size (requests or tokens per window).
    :param window: the seconds it takes an empty bucket to fill.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.rate = limit / window
        self.level = float(limit)
        self.updated = time.monotonic()

    def _refill(self, now: float) -> None:
        self.level = min(self.limit, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def shortfall(self, cost: int, now: float) -> float:
        """Seconds until ``cost`` fits (0 if it does now)."""
        self._refill(now)
        return max(0.0, (min(cost, self.limit) - self.level) / self.rate)

    def take(self, cost: int, now: float) -> None:
        """Spend ``cost``."""
        self._refill(now)
        self.level -= cost

    def headers(self, kind: str, now: float) -> str:
        """The ``x-ratelimit-*-<kind>`` headers."""
        self._refill(now)
        reset_ms = math.ceil((self.limit - self.level) / self.rate * 1000)
        return (
            f"x-ratelimit-limit-{kind}: {self.limit}\r\nx-ratelimit-remaining-{kind}: {max(0, int(self.level))}\r\n"
            f"x-ratelimit-reset-{kind}: {reset_ms}ms\r\n"
        )


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str], keep: bool) -> tuple[bytes, int]:
    """Read a request body (content-length or chunked); keep it only when asked, and return its size."""
    parts: list[bytes] = []
    size = 0
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            length = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if length == 0:
                await reader.readuntil(b"\r\n")
                break
            size += length
            chunk = await reader.readexactly(length)
            if keep:
                parts.append(chunk)
            await reader.readexactly(2)
    else:
        remaining = int(headers.get("content-length", "0"))
        while remaining:
            chunk = await reader.read(min(remaining, 1 << 20))
            if not chunk:
                raise ConnectionError("body cut short")
            remaining -= len(chunk)
            size += len(chunk)
            if keep:
                parts.append(chunk)
    return b"".join(parts), size


def head(status: int, length: int, extra: str = "", content_type: str = "application/json") -> bytes:
    """The status line and headers of an answer."""
    return (
        f"HTTP/1.1 {status} {REASONS[status]}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\n"
        f"x-request-id: req_bench\r\n{extra}\r\n"
    ).encode()


def answer(status: int, payload: dict, extra: str = "") -> bytes:
    """A whole JSON answer."""
    body = json.dumps(payload).encode()
    return head(status, len(body), extra) + body


async def stream_bytes(size: int, writer: asyncio.StreamWriter) -> None:
    """Send ``size`` bytes generated on the fly, 1 MiB at a time, waiting for the client to keep up."""
    writer.write(head(200, size, content_type="application/octet-stream"))
    view = memoryview(CHUNK)
    while size:
        count = min(size, len(CHUNK))
        writer.write(view[:count])
        size -= count
        await writer.drain()


async def serve(args: argparse.Namespace) -> None:
    """Listen on 127.0.0.1 and print the port."""
    app = Server(args.latency, args.max_inputs, args.rpm, args.tpm, args.rate_window, args.job_seconds)
    server = await asyncio.start_server(app.handle, "127.0.0.1", args.port, backlog=4096, limit=1 << 20)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="The benchmarks' local OpenAI-shaped server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--max-inputs", type=int, default=2048)
    parser.add_argument("--rpm", type=int, default=DEFAULT_RPM)
    parser.add_argument("--tpm", type=int, default=10_000_000_000)
    parser.add_argument("--rate-window", type=float, default=60.0)
    parser.add_argument("--job-seconds", type=float, default=10.0)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        uvloop.run(serve(args))
    except ImportError:
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()

"""
Joining a batch's output and error files back into input order, with memory bounded by the number of requests of
one batch (never by the size of the results).

The API writes result lines in any order. :class:`ResultIndex` reads the downloaded files once and keeps, per
``custom_id``, only where its line is (file, offset, length) and, for a line in OpenAI's usual layout
(``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error": null}``), where its body starts
and ends. :func:`write_joined` then writes one line per request in input order, reading each line back with
``pread``: a body in the usual layout is copied as bytes (no JSON parsing of 1,536 floats), any other line is parsed
and rewritten. 50,000 embeddings of 1,536 dimensions (about 1.5 GB of JSON) are joined in a few MiB of memory.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

CHUNK = 4 << 20
HEAD = 4096
TAIL = 256
# OpenAI's layout of a result line; its body is copied as bytes when the line matches this and _SUFFIX.
_PREFIX = re.compile(
    rb'\{\s*"id"\s*:\s*"[^"\\]*"\s*,\s*"custom_id"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"response"\s*:\s*\{\s*'
    rb'"status_code"\s*:\s*(\d{3})\s*,\s*"request_id"\s*:\s*(?:"[^"\\]*"|null)\s*,\s*"body"\s*:\s*(?=\{)'
)
_SUFFIX = re.compile(rb'\}\s*\}\s*,\s*"error"\s*:\s*null\s*\}\s*\Z')
_USUAL_SUFFIXES = (b'}}, "error": null}\n', b'}},"error":null}\n')
NEVER_RAN = {"batch_expired": "expired", "batch_cancelled": "cancelled"}


@dataclass
class Counts:
    """How the requests ended: ``succeeded`` (2xx), ``failed`` (an error answer), ``expired`` (never ran)."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    expired: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as the XCom shows them."""
        return {"total": self.total, "succeeded": self.succeeded, "failed": self.failed, "expired": self.expired}


@dataclass
class ResultIndex:
    """
    Where each request's result line is in the downloaded files.

    :param files: the output and error files of one batch.
    :param chunk_size: how much of a file is read at once.
    """

    files: Sequence[Path]
    chunk_size: int = CHUNK
    # custom_id -> (file number, offset, length, body start, body end, status code); body start -1: parse the line
    lines: dict[str, tuple[int, int, int, int, int, int]] = field(default_factory=dict)
    duplicates: int = 0

    def build(self) -> ResultIndex:
        """Read each file once, in large chunks, and record where every ``custom_id``'s line is."""
        buffer = bytearray(self.chunk_size)
        for number, path in enumerate(self.files):
            with path.open("rb", buffering=0) as reader:
                fd = reader.fileno()
                base, pending = 0, -1
                while read := reader.readinto(buffer):
                    pos = 0
                    while (newline := buffer.find(b"\n", pos, read)) >= 0:
                        end = newline + 1
                        if pending >= 0:
                            self._add_by_reading(number, fd, pending, base + end)
                            pending = -1
                        else:
                            self._add(number, base, buffer, pos, end)
                        pos = end
                    if pos < read and pending < 0:
                        pending = base + pos
                    base += read
                if pending >= 0:
                    self._add_by_reading(number, fd, pending, base)
        return self

    def _add(self, number: int, base: int, chunk: bytearray, start: int, end: int) -> None:
        """Index the line ``chunk[start:end]`` (at ``base + start`` in its file)."""
        match = _PREFIX.match(chunk, start, end)
        body_end = _body_end(chunk, start, end) if match else -1
        if match and body_end > match.end():
            entry = (number, base + start, end - start, match.end() - start, body_end - start, int(match.group(2)))
            self._record(_text(match.group(1)), entry)
        elif chunk[start:end].strip():
            entry = (number, base + start, end - start, -1, -1, 0)
            self._record(_parse(bytes(chunk[start:end])).get("custom_id"), entry)

    def _add_by_reading(self, number: int, fd: int, start: int, end: int) -> None:
        """Index a line that crossed a chunk boundary, reading its head and tail back from the file."""
        length = end - start
        head = os.pread(fd, min(length, HEAD), start)
        tail_start = max(length - TAIL, 0)
        tail = os.pread(fd, length - tail_start, start + tail_start)
        match = _PREFIX.match(head)
        suffix = _SUFFIX.search(tail) if match else None
        if match and suffix and match.end() <= tail_start + suffix.start():
            entry = (number, start, length, match.end(), tail_start + suffix.start() + 1, int(match.group(2)))
            self._record(_text(match.group(1)), entry)
        else:
            self._record(_parse(os.pread(fd, length, start)).get("custom_id"), (number, start, length, -1, -1, 0))

    def _record(self, custom_id: Any, entry: tuple[int, int, int, int, int, int]) -> None:
        if not isinstance(custom_id, str):
            return
        if custom_id in self.lines:
            self.duplicates += 1
            return
        self.lines[custom_id] = entry


class _Output:
    """
    A write buffer that result bodies are read into straight from the downloaded file (``preadv``), so each byte
    is copied once in and once out, as in a plain streamed copy.

    :param out: the output file.
    """

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.buffer = bytearray(CHUNK)
        self.view = memoryview(self.buffer)
        self.pos = 0

    def _room(self, size: int) -> bool:
        if self.pos + size > len(self.buffer):
            self.flush()
        return size <= len(self.buffer)

    def put(self, data: bytes) -> None:
        if not self._room(len(data)):
            self.out.write(data)
            return
        self.view[self.pos : self.pos + len(data)] = data
        self.pos += len(data)

    def put_from(self, fd: int, size: int, offset: int) -> None:
        if not self._room(size):
            self.out.write(os.pread(fd, size, offset))
            return
        if os.preadv(fd, [self.view[self.pos : self.pos + size]], offset) != size:
            raise OSError(f"a downloaded result file is shorter than indexed (at byte {offset})")
        self.pos += size

    def flush(self) -> None:
        if self.pos:
            self.out.write(self.view[: self.pos])
            self.pos = 0


class _KernelOutput:
    """
    Writes straight to the output file's descriptor; bodies are copied file to file inside the kernel
    (``copy_file_range``: no copy through this process at all), and, where the kernel cannot, read and written.

    :param target: the output file's descriptor, positioned where the lines go.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.pending = bytearray()
        self.in_kernel = True

    def put(self, data: bytes) -> None:
        self.pending += data

    def put_from(self, fd: int, size: int, offset: int) -> None:
        self.flush()
        while size and self.in_kernel:
            try:
                copied = os.copy_file_range(fd, self.target, size, offset)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                self.in_kernel = False
                break
            if not copied:
                raise OSError(f"a downloaded result file is shorter than indexed (at byte {offset})")
            size, offset = size - copied, offset + copied
        if size:
            self._write(os.pread(fd, size, offset))

    def _write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.target, view) :]

    def flush(self) -> None:
        if self.pending:
            self._write(self.pending)
            self.pending = bytearray()


def _body_end(chunk: bytearray, start: int, end: int) -> int:
    """Where the body of the line ``chunk[start:end]`` ends (after its closing brace), or -1."""
    for suffix in _USUAL_SUFFIXES:
        if chunk.endswith(suffix, start, end):
            return end - len(suffix) + 1
    found = _SUFFIX.search(chunk, max(start, end - TAIL), end)
    return found.start() + 1 if found else -1


def _text(quoted: bytes) -> Any:
    """A JSON string's value (``quoted`` with its quotes); most custom ids have no escapes to decode."""
    return quoted[1:-1].decode() if b"\\" not in quoted else json.loads(quoted)


def _quoted(text: str) -> bytes:
    """``text`` as a JSON string."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return b'"%s"' % text.encode()
    return json.dumps(text, ensure_ascii=False).encode()


def _parse(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def convert(line: Mapping[str, Any], counts: Counts) -> dict[str, Any]:
    """
    One result line of the API as one line of the joined output; counts it.

    :param line: ``{"custom_id", "response": {"status_code", "body"}, "error"}`` as the API writes it.
    :param counts: the counts to add to.
    """
    custom_id = line.get("custom_id")
    error = line.get("error")
    if isinstance(error, Mapping):
        never_ran = NEVER_RAN.get(str(error.get("code")))
        if never_ran:
            counts.expired += 1
            return {"custom_id": custom_id, "error": {**error, "code": never_ran}}
        counts.failed += 1
        return {"custom_id": custom_id, "error": dict(error)}
    response: Mapping[str, Any] = line["response"] if isinstance(line.get("response"), Mapping) else {}
    status = response.get("status_code")
    body = response.get("body")
    if isinstance(status, int) and 200 <= status < 300:
        counts.succeeded += 1
        return {"custom_id": custom_id, "status_code": status, "response": body}
    counts.failed += 1
    detail = body.get("error", body) if isinstance(body, Mapping) else body
    return {"custom_id": custom_id, "status_code": status, "error": detail}


def _dump(value: Mapping[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def write_joined(
    custom_ids: Sequence[str], index: ResultIndex, out: IO[bytes], counts: Counts, missing: str = "expired"
) -> None:
    """
    Write one line per request of ``custom_ids``, in that order, from the indexed files.

    :param custom_ids: the batch's custom ids in input order.
    :param index: where their result lines are.
    :param out: the output file.
    :param counts: the counts to add to.
    :param missing: the error code of a request without a result line: ``expired`` or ``cancelled`` (never ran);
        for a completed batch, ``missing``.
    """
    handles = [os.open(path, os.O_RDONLY) for path in index.files]
    target = _descriptor(out)
    buffered: _Output | _KernelOutput = _Output(out) if target is None else _KernelOutput(target)
    try:
        for custom_id in custom_ids:
            counts.total += 1
            entry = index.lines.get(custom_id)
            if entry is None:
                counts.expired += missing in NEVER_RAN.values()
                counts.failed += missing not in NEVER_RAN.values()
                buffered.put(_dump({"custom_id": custom_id, "error": {"code": missing}}))
                continue
            number, offset, length, start, end, status = entry
            if start >= 0 and 200 <= status < 300:
                buffered.put(b'{"custom_id":%s,"status_code":%d,"response":' % (_quoted(custom_id), status))
                buffered.put_from(handles[number], end - start, offset + start)
                buffered.put(b"}\n")
                counts.succeeded += 1
                continue
            line = _parse(os.pread(handles[number], length, offset))
            buffered.put(_dump(convert(line, counts)))
        buffered.flush()
    finally:
        for handle in handles:
            os.close(handle)
    if target is not None:
        out.seek(0, os.SEEK_END)


def _descriptor(out: IO[bytes]) -> int | None:
    """The output's file descriptor, flushed and ready for direct writes; ``None`` for an in-memory file."""
    if not hasattr(os, "copy_file_range"):
        return None
    try:
        target = out.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    out.flush()
    return target


def sum_usage(total: dict[str, Any], usage: Any) -> dict[str, Any]:
    """
    Add a batch's ``usage`` (token counts, nested details included) into ``total``; return ``total``.

    :param total: the sums so far.
    :param usage: one batch's ``usage`` object, or ``None``.
    """
    if not isinstance(usage, Mapping):
        return total
    for key, value in usage.items():
        if isinstance(value, Mapping):
            total[key] = sum_usage(dict(total.get(key) or {}), value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total[key] = int(total.get(key) or 0) + value
    return total

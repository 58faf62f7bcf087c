"""
The two writers of a joined batch result file: ranges of the downloaded files and lines written here, in order.

:class:`PipedOutput` (Linux, an output with a file descriptor) gathers the ranges and lines into segments of about
8 MiB and writes each through a pipe: each range moved into the pipe with ``splice`` (the kernel takes references
to the cached pages, nothing is copied), the pipe emptied into the output about 1 MiB at a time, so each byte is
copied once, by the kernel, with one system call per range and one per MiB. Into a regular file, two threads write
the segments at once, each through its own pipe and at the segment's own offset (``splice`` releases the GIL): on
an idle two-core machine the writes of 50,000 shuffled 30 KB lines take 0.46 s instead of 0.57 s in one thread (a
plain streamed copy of the same bytes, two copies through a buffer: 0.39 s), for a fifth to a half more CPU time,
so they gain nothing where the cores are busy. :class:`BufferedOutput` (anywhere else, e.g. an in-memory file) reads
the ranges into a write buffer (``preadv``) and writes it 4 MiB at a time.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import queue
import stat
import threading
from typing import IO

CHUNK = 4 << 20
PIPE_BYTES = 1 << 20
"""The pipe's capacity asked for (Linux's default ``pipe-max-size``); the system's default (64 KiB) if refused."""
SEGMENT = 8 << 20
"""The bytes of a segment that :class:`PipedOutput` hands to a worker (a range or line may take it past that)."""
WORKERS = 2
"""The threads writing segments at once (the machines this runs on have two cores or more)."""

Piece = tuple[int, int, int] | bytes
"""A range of a downloaded file (descriptor, size, offset) or a line to write."""


class BufferedOutput:
    """
    A write buffer that ranges are read into straight from the downloaded file (``preadv``): each byte is copied
    once in and once out, as in a plain streamed copy.

    :param out: the output file.
    """

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.buffer = bytearray(CHUNK)
        self.view = memoryview(self.buffer)
        self.pos = 0

    def put(self, data: bytes) -> None:
        """
        Write ``data``.

        :param data: the bytes.
        """
        if self.pos + len(data) > CHUNK:
            self.flush()
        if len(data) > CHUNK:
            self.out.write(data)
            return
        self.view[self.pos : self.pos + len(data)] = data
        self.pos += len(data)

    def put_from(self, fd: int, size: int, offset: int) -> None:
        """
        Write ``size`` bytes of the file ``fd`` from ``offset``.

        :param fd: the downloaded file.
        :param size: how many bytes.
        :param offset: where they start.
        """
        if self.pos + size > CHUNK:
            self.flush()
        while size > CHUNK:
            self.put_from(fd, CHUNK, offset)
            self.flush()
            size, offset = size - CHUNK, offset + CHUNK
        if os.preadv(fd, [self.view[self.pos : self.pos + size]], offset) != size:
            raise OSError(f"a downloaded result file is shorter than indexed (at byte {offset})")
        self.pos += size

    def flush(self) -> None:
        """Write what is buffered."""
        if self.pos:
            self.out.write(self.view[: self.pos])
            self.pos = 0

    def close(self) -> None:
        """Nothing to release (the output stays open)."""


class _Pipe:
    """
    A pipe that a segment's pieces go through on their way to the output: ranges spliced in, lines written in,
    and all of it moved out when the pipe is full and at the segment's end.
    """

    def __init__(self) -> None:
        import fcntl

        self.reader, self.writer = os.pipe()
        os.set_blocking(self.writer, False)
        with contextlib.suppress(OSError):  # over the system's or the user's pipe limits: the default size works too
            fcntl.fcntl(self.writer, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self.held = 0  # bytes in the pipe
        self.spliced = True  # False once the output has refused splice: read and written out instead

    def write(self, pieces: list[Piece], target: int, position: int | None) -> None:
        """
        Write ``pieces`` in order into ``target``.

        :param pieces: ranges of downloaded files (descriptor, size, offset) and lines.
        :param target: the output's descriptor.
        :param position: where the first byte goes; ``None``: at the output's own position, which moves on.
        """
        splice, writer = os.splice, self.writer
        for piece in pieces:
            if isinstance(piece, bytes):
                view = memoryview(piece)
                while view:
                    try:
                        written = os.write(writer, view)
                    except BlockingIOError:  # the pipe is full
                        position = self._empty(target, position)
                        continue
                    self.held += written
                    view = view[written:]
                continue
            fd, size, offset = piece
            while size:
                try:
                    moved = splice(fd, writer, size, offset, None, os.SPLICE_F_NONBLOCK)
                except BlockingIOError:
                    position = self._empty(target, position)
                    continue
                if not moved:
                    raise OSError(f"a downloaded result file is shorter than indexed (at byte {offset})")
                self.held += moved
                size, offset = size - moved, offset + moved
        self._empty(target, position)

    def _empty(self, target: int, position: int | None) -> int | None:
        """Move everything in the pipe into the output (at ``position`` if given); return the position after it."""
        while self.held:
            if self.spliced:
                try:
                    moved = os.splice(self.reader, target, self.held, None, position)
                except OSError as exc:
                    if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                        raise
                    self.spliced = False
                    continue
            else:
                moved = self._copy(target, position)
            self.held -= moved
            if position is not None:
                position += moved
        return position

    def _copy(self, target: int, position: int | None) -> int:
        """Read what is in the pipe and write it out (at ``position`` if given); return how many bytes."""
        data = memoryview(os.read(self.reader, self.held))
        done = 0
        while done < len(data):
            if position is None:
                done += os.write(target, data[done:])
            else:
                done += os.pwrite(target, data[done:], position + done)
        return done

    def close(self) -> None:
        """Close both ends."""
        os.close(self.reader)
        os.close(self.writer)


class PipedOutput:
    """
    Ranges and lines gathered into segments of about :data:`SEGMENT` bytes, each written through a pipe
    (:class:`_Pipe`). Into a regular file not opened for appending, the writer keeps the output's position itself
    and hands each full segment, with its offset, to :data:`WORKERS` threads (started with the first full segment,
    so a smaller join starts none), each with its own pipe; a queue of :data:`WORKERS` segments holds the caller
    back when they fall behind. Into anything else (a file opened for appending, a pipe) the caller writes each
    segment itself, in order. The output is flushed first and positioned after what was written at the end.

    :param out: the output file.
    :param target: its descriptor.
    """

    def __init__(self, out: IO[bytes], target: int) -> None:
        import fcntl

        self.out, self.target = out, target
        out.flush()
        positioned = stat.S_ISREG(os.fstat(target).st_mode) and not fcntl.fcntl(target, fcntl.F_GETFL) & os.O_APPEND
        self.position = out.tell() if positioned else None  # where the next segment starts, if it is tracked here
        self.pipe = _Pipe()
        self.pieces: list[Piece] = []
        self.filled = 0  # bytes in self.pieces
        self.queue: queue.Queue[tuple[int, list[Piece]] | None] | None = None  # the workers' segments, once started
        self.threads: list[threading.Thread] = []
        self.pipes: list[_Pipe] = []
        self.failure: BaseException | None = None  # a worker's error, raised at the caller's next call
        self.closing = False

    @classmethod
    def open(cls, out: IO[bytes]) -> PipedOutput | None:
        """
        A piped writer of ``out``, or ``None`` where there is no ``splice`` or ``out`` is not a plain file object
        with a descriptor (a wrapper such as ``gzip.GzipFile`` has its file's descriptor, but its bytes are not
        the file's).

        :param out: the output file.
        """
        if not hasattr(os, "splice") or not isinstance(out, (io.FileIO, io.BufferedWriter, io.BufferedRandom)):
            return None
        try:
            target = out.fileno()
        except (OSError, ValueError, io.UnsupportedOperation):
            return None
        return cls(out, target)

    def put(self, data: bytes) -> None:
        """
        Write ``data`` (kept until its segment is written).

        :param data: the bytes.
        """
        if self.failure is not None:
            raise self.failure
        self.pieces.append(data)
        self.filled += len(data)
        if self.filled >= SEGMENT:
            self._send()

    def put_from(self, fd: int, size: int, offset: int) -> None:
        """
        Write ``size`` bytes of the file ``fd`` from ``offset`` (a range longer than the current segment's room is
        split over segments).

        :param fd: the downloaded file.
        :param size: how many bytes.
        :param offset: where they start.
        """
        if self.failure is not None:
            raise self.failure
        room = SEGMENT - self.filled
        while size > room:
            self.pieces.append((fd, room, offset))
            self.filled = SEGMENT
            self._send()
            size, offset, room = size - room, offset + room, SEGMENT
        self.pieces.append((fd, size, offset))
        self.filled += size
        if self.filled >= SEGMENT:
            self._send()

    def _send(self, last: bool = False) -> None:
        """
        Write the current segment: to the workers where the output's position is tracked here (starting them
        unless this is the join's only segment), else in the caller.
        """
        pieces, size = self.pieces, self.filled
        self.pieces, self.filled = [], 0
        if self.position is None:
            self.pipe.write(pieces, self.target, None)
            return
        if self.queue is None and last:
            self.pipe.write(pieces, self.target, self.position)
        else:
            segments = self.queue if self.queue is not None else self._start()
            segments.put((self.position, pieces))
        self.position += size

    def _start(self) -> queue.Queue[tuple[int, list[Piece]] | None]:
        """Start the workers, each with its own pipe; return their queue."""
        segments: queue.Queue[tuple[int, list[Piece]] | None] = queue.Queue(WORKERS)
        self.queue = segments
        for number in range(WORKERS):
            pipe = _Pipe()
            self.pipes.append(pipe)
            name = f"batch-join-writer-{number}"  # not a daemon, even when the caller is: close() ends it
            thread = threading.Thread(target=self._work, args=(segments, pipe), name=name, daemon=False)
            thread.start()
            self.threads.append(thread)
        return segments

    def _work(self, segments: queue.Queue[tuple[int, list[Piece]] | None], pipe: _Pipe) -> None:
        """
        A worker: write each segment at its offset until told to stop; after an error, or once the writer is
        closing, take the segments and drop them (the caller never waits on a full queue for nothing).
        """
        while True:
            segment = segments.get()
            try:
                if segment is None:
                    return
                if self.failure is None and not self.closing:
                    position, pieces = segment
                    pipe.write(pieces, self.target, position)
            except BaseException as exc:  # the caller raises it at its next call
                self.failure = exc
            finally:
                segments.task_done()

    def flush(self) -> None:
        """Write every segment and position the output (if it has positions) after the last byte."""
        if self.failure is not None:
            raise self.failure
        if self.pieces:
            self._send(last=True)
        if self.queue is not None:
            self.queue.join()
            if self.failure is not None:
                raise self.failure
        if self.position is not None:
            self.out.seek(self.position)
        elif self.out.seekable():
            self.out.seek(os.lseek(self.target, 0, os.SEEK_CUR))

    def close(self) -> None:
        """Stop the workers (segments not yet written are dropped), wait for them and close the pipes."""
        self.closing = True
        if self.queue is not None:
            for _ in self.threads:
                self.queue.put(None)
            for thread in self.threads:
                thread.join()
        for pipe in [self.pipe, *self.pipes]:
            pipe.close()


def output(out: IO[bytes]) -> PipedOutput | BufferedOutput:
    """
    The writer for ``out``: piped where it can be, else buffered.

    :param out: the output file.
    """
    return PipedOutput.open(out) or BufferedOutput(out)

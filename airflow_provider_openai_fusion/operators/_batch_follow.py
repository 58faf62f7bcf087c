"""
Indexing a batch's result file while it downloads: each piece the download writes is still in memory (and in the
CPU's cache), so its lines are indexed there, and the join that follows the download only writes. On a real link
the download waits on the network and the indexing costs no wall time; without it, the join would read the whole
file once more before writing a byte.

A line that spans pieces is joined from them; one longer than :data:`HELD_LINE_BYTES` is not held in memory but
indexed from the downloaded file once the download is done, as :func:`~._batch_results.scan_file` would. A
download that starts again (a retry) starts the file's index again.
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.operators._batch_results import FileLines, ResultIndex

HELD_LINE_BYTES = 8 << 20
"""The longest line held in memory while the download goes on; a longer one is indexed from the file afterwards."""


class Follower:
    """
    Indexes one result file as its download writes it; the download calls :meth:`restart` before its first piece
    and :meth:`feed` with each piece, in order; then :meth:`done` adds the file's lines to the batch's index.

    :param index: the batch's index.
    :param number: the file's number.
    :param path: where the file is downloaded.
    """

    def __init__(self, index: ResultIndex, number: int, path: Path) -> None:
        self.index, self.number, self.path = index, number, path
        self.restart()

    def restart(self) -> None:
        """Start again from the file's first byte (a new attempt of the download)."""
        self.found: FileLines = self.index.file_lines(self.number)
        self.offset = 0  # where the next piece starts in the file
        self.held: list[memoryview] = []  # the start of a line that no piece has ended yet
        self.held_at = 0  # where that line starts in the file
        self.held_bytes = 0
        self.too_long = False  # that line is longer than HELD_LINE_BYTES: indexed from the file afterwards
        self.later: list[tuple[int, int]] = []  # those lines: start, end

    def feed(self, piece: bytes) -> None:
        """
        Index the lines that ``piece`` ends; hold the start of the line it does not end.

        :param piece: the next bytes of the file.
        """
        offset, size, start = self.offset, len(piece), 0
        self.offset += size
        if self.held_bytes or self.too_long:
            end = piece.find(b"\n")
            if end < 0:
                self._hold(piece, 0, size)
                return
            start = end + 1
            self._hold(piece, 0, start)
            self._end_held()
        find, add = piece.find, self.found.add
        while (end := find(b"\n", start)) >= 0:
            add(piece, start, end + 1, offset + start)
            start = end + 1
        if start < size:
            self.held_at = offset + start
            self._hold(piece, start, size)

    def _hold(self, piece: bytes, start: int, end: int) -> None:
        self.held_bytes += end - start
        if self.too_long:
            return
        if self.held_bytes > HELD_LINE_BYTES:
            self.too_long, self.held = True, []
            return
        self.held.append(memoryview(piece)[start:end])

    def _end_held(self) -> None:
        """Index the held line, now ended (by a newline, or by the end of the file)."""
        end = self.held_at + self.held_bytes
        if self.too_long:
            self.later.append((self.held_at, end))
        else:
            line = b"".join(self.held)
            self.found.add(line, 0, len(line), self.held_at)
        self.held, self.held_bytes, self.too_long = [], 0, False

    def done(self) -> None:
        """The download is complete: index its last line, and the long lines from the file; add them to the index."""
        if self.held_bytes:
            self._end_held()
        if self.later:
            self._index_later()
        self.index.merge(self.found)

    def _index_later(self) -> None:
        """Index the lines too long to hold, from the downloaded file; an earlier line of an id comes first."""
        from airflow_provider_openai_fusion.operators._batch_results import FileLines

        found = self.found
        with self.path.open("rb") as reader, mmap.mmap(reader.fileno(), 0, access=mmap.ACCESS_READ) as view:
            for start, end in self.later:
                long_line = FileLines(self.number, found.asked, found.max_line_bytes)
                long_line.add(view, start, end, start)
                low = start - start % mmap.PAGESIZE
                view.madvise(mmap.MADV_DONTNEED, low, end - low)
                self._insert(long_line)

    def _insert(self, long_line: FileLines) -> None:
        """Add one long line's entry to the file's: it replaces a later line of the same id (the first one counts)."""
        found = self.found
        found.unexpected += long_line.unexpected
        for custom_id, entry in long_line.lines.items():
            kept = found.lines.get(custom_id)
            if kept is not None:
                found.duplicates += 1
                if kept[1] < entry[1]:
                    continue
                found.reasons.pop(custom_id, None)
            found.lines[custom_id] = entry
            if custom_id in long_line.reasons:
                found.reasons[custom_id] = long_line.reasons[custom_id]

"""
Joining a batch's output and error files back into input order, with memory bounded by the number of requests of
one batch (never by the size of the results), and every line checked before it is trusted.

A joined line is OpenAI's own result line, ``{"id", "custom_id", "response": {"status_code", "request_id",
"body"}, "error"}``, so a parser written for OpenAI's output file reads it unchanged. A request without a usable
line gets a line of the same shape written here: ``{"id": null, "custom_id", "response": null, "error": {"code",
"message"}}`` with the code ``batch_expired`` or ``batch_cancelled`` (it never ran), ``missing`` (a completed
batch without its line), ``result_line_too_large`` or ``result_line_invalid`` (see below).

:class:`ResultIndex` indexes each file while it downloads (:meth:`ResultIndex.follow`, the pieces still in
memory: the join then reads the data once, to write it) or from the downloaded file (:meth:`ResultIndex.build`,
mapped with ``mmap``); each line is found with ``bytes.find`` and checked by :meth:`FileLines.add`. It keeps only
the lines of the custom ids of the input (a line for any other id is counted and skipped), at most one per id (the
first), each at most ``max_line_bytes`` long. A line in OpenAI's usual layout (``{"id", "custom_id", "response":
{"status_code", "request_id", "body"}, "error": null}``) is checked to be one JSON object whose ``custom_id`` and
``status_code`` are the ones its head says: its body must be one JSON value (so no key can follow it), found
without parsing its numbers (:func:`_one_value`: the quote-free span around the middle of the body is set aside
and what remains, with a ``0`` in its place, must parse as one object; the numbers are not checked). Such lines
are copied as bytes, runs of lines already in input order as one range. Any other line (another key order, an
``error`` object) is parsed, if it is at most :data:`MAX_PARSED_LINE_BYTES`, and refused if a key repeats at any
level. 50,000 embeddings of 1,536 dimensions (about 1.5 GB of JSON) are joined in a few MiB of memory.
"""

from __future__ import annotations

import json
import mmap
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.operators._batch_follow import Follower
    from airflow_provider_openai_fusion.operators._batch_output import BufferedOutput, PipedOutput

MAX_LINE_BYTES = 64 << 20
"""The longest result line kept by default (an embeddings request of 2,048 inputs of 1,536 dimensions is ~60 MB)."""
MAX_PARSED_LINE_BYTES = 8 << 20
"""The longest line parsed as JSON (a line in another layout than OpenAI's usual one)."""
SHORT_BODY = 4096
"""Bodies up to this size are checked by parsing them whole."""
DROP_EVERY = 16 << 20
"""How many bytes of a mapped file are read before the pages behind are let go (keeps the RSS flat)."""
NEVER_RAN = {"batch_expired": "expired", "batch_cancelled": "cancelled"}
# OpenAI's usual layout of a result line, up to its body (the custom id's JSON text, unquoted, and the status),
# and from the end of its body; _SPACED is that layout as OpenAI writes it (one space after ':' and ','), matched
# first because a pattern without the optional whitespace is twice as fast.
_PREFIX = re.compile(
    rb'\{\s*"id"\s*:\s*"[^"\\]*"\s*,\s*"custom_id"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"response"\s*:\s*\{\s*'
    rb'"status_code"\s*:\s*(\d{3})\s*,\s*"request_id"\s*:\s*(?:"[^"\\]*"|null)\s*,\s*"body"\s*:\s*(?=\{)'
)
_SPACED = re.compile(
    rb'\{"id": "[^"\\]*", "custom_id": "([^"\\]*)", "response": \{"status_code": (\d{3}), '
    rb'"request_id": (?:"[^"\\]*"|null), "body": (?=\{)'
)
_SUFFIX = re.compile(rb'\}\s*\}\s*,\s*"error"\s*:\s*null\s*\}\s*\Z')
_USUAL_SUFFIXES = (b'}}, "error": null}\n', b'}},"error":null}\n', b'}}, "error": null}', b'}},"error":null}')
_ANY_ID = re.compile(rb'"custom_id"\s*:\s*("(?:[^"\\]|\\.)*")')
COPY, PARSE, TOO_LARGE, INVALID = range(4)


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


class AskedFor:
    """
    The custom ids of a batch's input, looked up by the bytes a result line's head spells them with: an id whose
    JSON text is its own UTF-8 (no escape) is found without decoding it.

    :param custom_ids: the custom ids.
    """

    def __init__(self, custom_ids: Iterable[str]) -> None:
        self.ids = dict.fromkeys(custom_ids)
        self.raw: dict[bytes, str] = {}
        for custom_id in self.ids:
            try:
                self.raw[custom_id.encode()] = custom_id
            except UnicodeEncodeError:  # a lone surrogate: only an escaped head can spell it
                continue

    def find(self, text: bytes) -> str | None:
        """
        The asked-for custom id that ``text`` (the bytes between a head's quotes) spells, or ``None``.

        :param text: the bytes between the quotes.
        """
        custom_id = self.raw.get(text)
        if custom_id is None and b"\\" in text:
            decoded = _custom_id(text)
            return decoded if decoded in self.ids else None
        return custom_id


@dataclass
class FileLines:
    """
    The asked-for result lines of one downloaded file: at most one per id (the first), each checked.

    :param number: the file's number in the batch's files.
    :param asked: the asked-for custom ids.
    :param max_line_bytes: the longest line kept; a longer one becomes its request's ``result_line_too_large``.
    """

    number: int
    asked: AskedFor
    max_line_bytes: int = MAX_LINE_BYTES
    lines: dict[str, tuple[int, int, int, int, int]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0
    unexpected: int = 0

    def add(self, view: Any, start: int, end: int, at: int) -> None:
        """
        Index the line ``view[start:end]`` (its newline included, if it has one), which starts at byte ``at`` of
        the file.

        :param view: the bytes that hold the line (a mapped file, or a piece of the download).
        :param start: where the line starts in ``view``.
        :param end: where it ends in ``view``.
        :param at: where it starts in the file.
        """
        match = _SPACED.match(view, start, end) or _PREFIX.match(view, start, end)
        if match is None:
            if end - start > 1 or view[start] not in b"\n \r\t":
                self._other(view, start, end, at)
            return
        text, status = match.group(1, 2)
        custom_id = self.asked.find(text)
        if custom_id is None:
            self.unexpected += 1
        elif custom_id in self.lines:
            self.duplicates += 1
        else:
            kind, reason = _usual(view, start, end, match, self.max_line_bytes)
            self._record(custom_id, (self.number, at, end - start, kind, int(status)), reason)

    def _record(self, custom_id: str, entry: tuple[int, int, int, int, int], reason: str | None) -> None:
        self.lines[custom_id] = entry
        if reason:
            self.reasons[custom_id] = reason

    def _other(self, view: Any, start: int, end: int, at: int) -> None:
        """A line not in the usual layout: parsed when small enough, else an error row for the id its head names."""
        length = end - start
        if length <= min(MAX_PARSED_LINE_BYTES, self.max_line_bytes):
            line, reason = _parse(view[start:end])
            custom_id = line.get("custom_id") if line else None
            if not isinstance(custom_id, str):
                return
            kind = INVALID if reason else PARSE
        else:
            ids = _ANY_ID.findall(view, start, min(end, start + 4096))
            if len(ids) != 1:
                return
            custom_id = _custom_id(ids[0][1:-1])
            if custom_id is None:
                self.unexpected += 1
                return
            kind = TOO_LARGE
            reason = f"the result line is {length:,} bytes and not in OpenAI's usual layout; at most " + (
                f"{MAX_PARSED_LINE_BYTES:,} bytes of such a line are read"
            )
        if custom_id not in self.asked.ids:
            self.unexpected += 1
        elif custom_id in self.lines:
            self.duplicates += 1
        else:
            self._record(custom_id, (self.number, at, length, kind, 0), reason)


@dataclass
class ResultIndex:
    """
    Where the result line of each asked-for ``custom_id`` is in the downloaded files: built from the files
    (:meth:`build`), or file by file as they download (:meth:`follow`).

    :param files: the output and error files of one batch.
    :param custom_ids: the custom ids of the batch's input: lines for any other id are skipped.
    :param max_line_bytes: the longest line kept; a longer one becomes its request's ``result_line_too_large``.
    """

    files: Sequence[Path]
    custom_ids: Iterable[str]
    max_line_bytes: int = MAX_LINE_BYTES
    # custom_id -> (file number, offset, length, kind, status code); kind: COPY, PARSE, TOO_LARGE or INVALID
    lines: dict[str, tuple[int, int, int, int, int]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0
    unexpected: int = 0
    asked: AskedFor | None = field(default=None, repr=False)

    def build(self) -> ResultIndex:
        """Map each file once and record where every asked-for ``custom_id``'s line is."""
        for number, path in enumerate(self.files):
            found = self.file_lines(number)
            scan_file(path, found)
            self.merge(found)
        return self

    def file_lines(self, number: int) -> FileLines:
        """
        An empty index of the file ``number``, to fill and then :meth:`merge`.

        :param number: the file's number.
        """
        if self.asked is None:
            self.asked = AskedFor(self.custom_ids)
        return FileLines(number, self.asked, self.max_line_bytes)

    def follow(self, path: Path) -> Follower:
        """
        Add ``path`` as the next file and return a
        :class:`~airflow_provider_openai_fusion.operators._batch_follow.Follower` that indexes it as its download
        writes it (pass it to the download as ``observer``, then call its ``done``).

        :param path: where the file is downloaded.
        """
        from airflow_provider_openai_fusion.operators._batch_follow import Follower

        self.files = [*self.files, path]
        return Follower(self, len(self.files) - 1, path)

    def merge(self, found: FileLines) -> None:
        """
        Add the lines of one file, after those of the files before it: an id they already have is a duplicate.

        :param found: the file's lines.
        """
        lines, reasons = self.lines, self.reasons
        for custom_id, entry in found.lines.items():
            if custom_id in lines:
                self.duplicates += 1
                continue
            lines[custom_id] = entry
            reason = found.reasons.get(custom_id)
            if reason:
                reasons[custom_id] = reason
        self.duplicates += found.duplicates
        self.unexpected += found.unexpected


def scan_file(path: Path, found: FileLines) -> None:
    """
    Index every line of the file at ``path`` into ``found``: mapped (``mmap``), each line found with
    ``bytes.find``, the pages behind let go every :data:`DROP_EVERY` bytes.

    :param path: the file.
    :param found: its index.
    """
    with path.open("rb") as reader:
        size = os.fstat(reader.fileno()).st_size
        if not size:
            return
        with mmap.mmap(reader.fileno(), 0, access=mmap.ACCESS_READ) as view:
            view.madvise(mmap.MADV_SEQUENTIAL)
            find, add, dropped, start = view.find, found.add, 0, 0
            while start < size:
                end = find(b"\n", start, start + DROP_EVERY)
                end = _long_line_end(view, start, size) if end < 0 else end + 1
                add(view, start, end, start)
                start = end
                if start - dropped >= DROP_EVERY:
                    keep = start - start % mmap.PAGESIZE
                    view.madvise(mmap.MADV_DONTNEED, dropped, keep - dropped)
                    dropped = keep


def _custom_id(text: bytes) -> str | None:
    """
    The custom id that a line's head spells between its quotes (JSON escapes read), or ``None`` when those bytes are
    not UTF-8 or hold a bad escape: no input of ours has such an id, so the line is skipped as not asked for.

    :param text: the bytes between the quotes.
    """
    try:
        return text.decode() if b"\\" not in text else cast("str", json.loads(b'"' + text + b'"'))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError
        return None


def _long_line_end(view: mmap.mmap, start: int, size: int) -> int:
    """The end of a line longer than :data:`DROP_EVERY`, found window by window, each let go once searched."""
    window = start + DROP_EVERY
    while window < size:
        end = view.find(b"\n", window, window + DROP_EVERY)
        low = window - window % mmap.PAGESIZE
        view.madvise(mmap.MADV_DONTNEED, low, min(DROP_EVERY, size - low))
        if end >= 0:
            return end + 1
        window += DROP_EVERY
    return size


def _usual(view: Any, start: int, end: int, match: re.Match[bytes], max_line_bytes: int) -> tuple[int, str | None]:
    """The kind of a line whose head is in the usual layout (copied as is only if its body is one JSON value)."""
    length = end - start
    if length > max_line_bytes:
        return TOO_LARGE, f"the result line is {length:,} bytes, over the {max_line_bytes:,}-byte cap of a line"
    body_end = _body_end(view, start, end)
    if body_end < 0 or not _one_value(view, match.end(), body_end):
        if length <= MAX_PARSED_LINE_BYTES:
            return PARSE, None
        return INVALID, "the result line's body is not one JSON object (a key after it would change the line)"
    return COPY, None


def _body_end(view: Any, start: int, end: int) -> int:
    """Where the body of the line ``view[start:end]`` ends (after its closing brace), or -1."""
    if end - start > 19 and view[end - 19 : end] == _USUAL_SUFFIXES[0]:  # as OpenAI writes it: most lines
        return end - 18
    tail = view[max(start, end - 20) : end]
    for suffix in _USUAL_SUFFIXES:
        if tail.endswith(suffix):
            return end - len(suffix) + 1
    found = _SUFFIX.search(view, max(start, end - 256), end)
    return found.start() + 1 if found else -1


def _one_value(view: Any, start: int, end: int) -> bool:
    """
    Whether ``view[start:end]`` is one JSON object, nothing after it, for a line that is itself valid JSON.

    A long body is checked without parsing its bulk. Around its middle lies a span with no quote (between the last
    quote before the middle and the first one after it; inside it, an array's elements when the body has one
    there, else a string's text). A span without a quote can close no object it is in (what follows a closed
    value in an object is a key, which needs a quote), so if the body with that span replaced by ``0`` is one
    object (the same closing brackets after it end the same containers), the body is one object too: no key can
    follow it, none of the line's can repeat.
    """
    if end - start <= SHORT_BODY:
        return _is_object(view[start:end])
    middle = (start + end) // 2
    left, right = view.rfind(b'"', start, middle), view.find(b'"', middle, end)
    if left >= 0 and right >= 0:
        opened = view.find(b"[", left, middle)
        closed = view.find(b"]", middle, right) if opened >= 0 else -1
        if closed >= 0:
            return _is_reduced(view[start : opened + 1] + b"0" + view[closed:end])
        if opened < 0 and view[right - 1] != 0x5C:  # a backslash before the closing quote would escape it
            return _is_reduced(view[start : left + 1] + b"0" + view[right:end])
    return end - start <= MAX_PARSED_LINE_BYTES and _is_object(view[start:end])


_CHECKED: dict[bytes, bool] = {}


def _is_reduced(text: bytes) -> bool:
    """:func:`_is_object` of a reduced body; results repeat (the lines of one batch share a shape), so kept."""
    known = _CHECKED.get(text)
    if known is None:
        if len(_CHECKED) >= 4096:
            _CHECKED.clear()
        known = _CHECKED[text] = _is_object(text)
    return known


def _is_object(text: bytes) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise ValueError(f"the key {repeated[:80]!r} appears twice in one object")
    return value


def _parse(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """A line parsed (``None`` if it is not a JSON object), and the reason it cannot be trusted, if any."""
    try:
        value = json.loads(line, object_pairs_hook=_unique_keys)
    except ValueError as exc:
        if "appears twice" not in str(exc):
            return None, None
        try:
            loose = json.loads(line)
        except ValueError:
            return None, None
        return (loose if isinstance(loose, dict) else None), f"the result line is refused: {exc}"
    except RecursionError:
        return None, None
    return (value if isinstance(value, dict) else None), None


def count(line: Mapping[str, Any], counts: Counts) -> None:
    """
    Count one result line (OpenAI's shape): an ``error`` that says it never ran is ``expired``, any other
    ``error`` or a non-2xx status ``failed``, else ``succeeded``.

    :param line: the line.
    :param counts: the counts to add to.
    """
    error = line.get("error")
    if isinstance(error, Mapping):
        if str(error.get("code")) in NEVER_RAN:
            counts.expired += 1
        else:
            counts.failed += 1
        return
    response = line.get("response")
    status = response.get("status_code") if isinstance(response, Mapping) else None
    if isinstance(status, int) and 200 <= status < 300:
        counts.succeeded += 1
    else:
        counts.failed += 1


def error_line(custom_id: str, code: str, message: str) -> dict[str, Any]:
    """
    The line of a request without a usable result line, in OpenAI's shape.

    :param custom_id: the request's custom id.
    :param code: ``batch_expired``, ``batch_cancelled``, ``missing``, ``result_line_too_large`` or
        ``result_line_invalid``.
    :param message: what happened.
    """
    return {"id": None, "custom_id": custom_id, "response": None, "error": {"code": code, "message": message}}


def _dump(value: Mapping[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def write_joined(
    custom_ids: Sequence[str], index: ResultIndex, out: IO[bytes], counts: Counts, missing: str = "missing"
) -> None:
    """
    Write one line per request of ``custom_ids``, in that order, from the indexed files: lines copied as they
    are go out as ranges of their file (a run of lines already in input order as one range), through
    :func:`~airflow_provider_openai_fusion.operators._batch_output.output`.

    :param custom_ids: the batch's custom ids in input order.
    :param index: where their result lines are.
    :param out: the output file.
    :param counts: the counts to add to.
    :param missing: the error code of a request without a result line: ``batch_expired`` or ``batch_cancelled``
        (never ran); for a completed batch, ``missing``.
    """
    from airflow_provider_openai_fusion.operators._batch_output import output

    handles = [os.open(path, os.O_RDONLY) for path in index.files]
    try:
        writer = output(out)
        try:
            _write_lines(custom_ids, index, writer, handles, counts, missing)
            writer.flush()
        finally:
            writer.close()
    finally:
        for handle in handles:
            os.close(handle)


def _write_lines(
    custom_ids: Sequence[str],
    index: ResultIndex,
    writer: PipedOutput | BufferedOutput,
    handles: list[int],
    counts: Counts,
    missing: str,
) -> None:
    """The loop of :func:`write_joined`."""
    ends = [_unterminated_end(handle) for handle in handles]
    lines = index.lines
    succeeded = failed = 0
    run, start, stop = -1, 0, 0  # the run of lines being copied as one range: file number, offsets
    for custom_id in custom_ids:
        entry = lines.get(custom_id)
        if entry is not None and entry[3] == COPY:
            number, offset, length, _, status = entry
            if 200 <= status < 300:
                succeeded += 1
            else:
                failed += 1
            if number == run and offset == stop:
                stop += length
                continue
            if run >= 0:
                _put_run(writer, handles[run], start, stop, ends[run])
            run, start, stop = number, offset, offset + length
            continue
        if run >= 0:
            _put_run(writer, handles[run], start, stop, ends[run])
            run = -1
        writer.put(_dump(_line_of(custom_id, entry, index, handles, counts, missing)))
    if run >= 0:
        _put_run(writer, handles[run], start, stop, ends[run])
    counts.total += len(custom_ids)
    counts.succeeded += succeeded
    counts.failed += failed


def _put_run(writer: PipedOutput | BufferedOutput, handle: int, start: int, stop: int, end: int) -> None:
    """Write the bytes ``start:stop`` of a file, and a newline if they end a file whose last line has none."""
    writer.put_from(handle, stop - start, start)
    if stop == end:
        writer.put(b"\n")


def _unterminated_end(handle: int) -> int:
    """The size of a file whose last line has no newline (a copy ending there gets one); else -1."""
    size = os.fstat(handle).st_size
    return size if size and os.pread(handle, 1, size - 1) != b"\n" else -1


def _line_of(
    custom_id: str,
    entry: tuple[int, int, int, int, int] | None,
    index: ResultIndex,
    handles: list[int],
    counts: Counts,
    missing: str,
) -> dict[str, Any]:
    """The line written for a request whose result line is not copied as is (and counts it)."""
    if entry is None:
        counts.expired += missing in NEVER_RAN
        counts.failed += missing not in NEVER_RAN
        never_ran = {"batch_expired": "the batch expired", "batch_cancelled": "the batch was cancelled"}
        text = never_ran.get(missing, "the batch completed without a result line for this request")
        return error_line(custom_id, missing, text + " (no result line)")
    number, offset, length, kind, _ = entry
    if kind == PARSE:
        line, reason = _parse(os.pread(handles[number], length, offset))
        if line is not None and reason is None and line.get("custom_id") == custom_id:
            count(line, counts)
            return line
        entry_reason = reason or "the result line is not a JSON object with this custom_id"
    else:
        entry_reason = index.reasons.get(custom_id, "the result line cannot be read")
    counts.failed += 1
    code = "result_line_too_large" if kind == TOO_LARGE else "result_line_invalid"
    return error_line(custom_id, code, entry_reason)


def line_cap(endpoint: str) -> int:
    """
    The longest result line a request to ``endpoint`` can produce: an embeddings request of up to 2,048 inputs
    gets :data:`MAX_LINE_BYTES`, any other request (at most 128k output tokens) 16 MiB.

    :param endpoint: the batch's endpoint.
    """
    return MAX_LINE_BYTES if endpoint.endswith("/embeddings") else 16 << 20


def input_custom_ids(hook: Any, input_file_id: str, folder: Path) -> list[str]:
    """
    The custom ids of a batch's input file, in order, read from its download (for a join that has only the batch
    and its ``input_file_id``); the file is deleted afterwards.

    :param hook: the :class:`~airflow_provider_openai_fusion.hooks.openai_fusion.OpenAIFusionHook`.
    :param input_file_id: the batch's ``input_file_id``.
    :param folder: where the file is downloaded.
    """
    from airflow_provider_openai_fusion.api.batches import result_file
    from airflow_provider_openai_fusion.api.files import retrieve_file

    declared = hook.request(retrieve_file(input_file_id)).get("bytes")
    size = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
    path = hook.download(result_file(input_file_id), folder / "input.jsonl", size=size)
    try:
        with path.open("rb") as lines:
            found = [json.loads(line).get("custom_id") for line in lines if line.strip()]
    finally:
        path.unlink()
    return [str(custom_id) for custom_id in found]


def join_batch(
    hook: Any, batch: Mapping[str, Any], custom_ids: Sequence[str], folder: Path, out: IO[bytes], counts: Counts
) -> ResultIndex:
    """
    Download one batch's output and error files into ``folder``, indexing them as they download
    (:meth:`ResultIndex.follow`), and write its results in input order to ``out``. Each file is bounded by its
    declared size and by what the batch's requests can produce (their number times the endpoint's
    :func:`line_cap`); the files are deleted afterwards.

    :param hook: the :class:`~airflow_provider_openai_fusion.hooks.openai_fusion.OpenAIFusionHook`.
    :param batch: the batch object (``id``, ``endpoint``, ``status``, ``output_file_id``, ``error_file_id``).
    :param custom_ids: the custom ids of its input file, in order.
    :param folder: where the files are downloaded.
    :param out: the output file.
    :param counts: the counts to add to.
    """
    import dataclasses

    from airflow_provider_openai_fusion.api.batches import result_file
    from airflow_provider_openai_fusion.api.files import retrieve_file

    cap = line_cap(str(batch.get("endpoint") or ""))
    index = ResultIndex([], custom_ids, cap)
    for key in ("output_file_id", "error_file_id"):
        if batch.get(key):
            declared = hook.request(retrieve_file(batch[key])).get("bytes")
            spec = result_file(batch[key])
            spec = dataclasses.replace(spec, max_bytes=min(spec.max_bytes, cap * max(len(custom_ids), 1)))
            size = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
            follower = index.follow(folder / f"{key}.jsonl")
            hook.download(spec, follower.path, size=size, observer=follower)
            follower.done()
    never_ran = {"expired": "batch_expired", "cancelled": "batch_cancelled"}
    write_joined(custom_ids, index, out, counts, never_ran.get(str(batch.get("status")), "missing"))
    for path in index.files:
        path.unlink()
    return index


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

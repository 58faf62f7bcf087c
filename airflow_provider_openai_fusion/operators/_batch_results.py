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

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

READ_BUFFER = 1 << 20
TAIL = 256
# OpenAI's layout of a result line; its body is copied as bytes when the line matches this and _SUFFIX.
_PREFIX = re.compile(
    rb'\{\s*"id"\s*:\s*"[^"\\]*"\s*,\s*"custom_id"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"response"\s*:\s*\{\s*'
    rb'"status_code"\s*:\s*(\d{3})\s*,\s*"request_id"\s*:\s*(?:"[^"\\]*"|null)\s*,\s*"body"\s*:\s*(?=\{)'
)
_SUFFIX = re.compile(rb'\}\s*\}\s*,\s*"error"\s*:\s*null\s*\}\s*\Z')
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
    """

    files: Sequence[Path]
    # custom_id -> (file number, offset, length, body start, body end, status code); body start -1: parse the line
    lines: dict[str, tuple[int, int, int, int, int, int]] = field(default_factory=dict)
    duplicates: int = 0

    def build(self) -> ResultIndex:
        """Read each file once, line by line, and record where every ``custom_id``'s line is."""
        for number, path in enumerate(self.files):
            offset = 0
            with path.open("rb", buffering=READ_BUFFER) as reader:
                for line in reader:
                    self._add(number, offset, line)
                    offset += len(line)
        return self

    def _add(self, number: int, offset: int, line: bytes) -> None:
        if not line.strip():
            return
        match = _PREFIX.match(line)
        tail_start = max(len(line) - TAIL, 0)
        suffix = _SUFFIX.search(line, tail_start) if match else None
        if match and suffix:
            custom_id = json.loads(match.group(1))
            entry = (number, offset, len(line), match.end(), suffix.start() + 1, int(match.group(2)))
        else:
            custom_id = _parse(line).get("custom_id")
            entry = (number, offset, len(line), -1, -1, 0)
        if not isinstance(custom_id, str):
            return
        if custom_id in self.lines:
            self.duplicates += 1
            return
        self.lines[custom_id] = entry


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
    response = line.get("response") if isinstance(line.get("response"), Mapping) else {}
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
    try:
        for custom_id in custom_ids:
            counts.total += 1
            entry = index.lines.get(custom_id)
            if entry is None:
                if missing in ("expired", "cancelled"):
                    counts.expired += 1
                else:
                    counts.failed += 1
                out.write(_dump({"custom_id": custom_id, "error": {"code": missing}}))
                continue
            number, offset, length, start, end, status = entry
            if start >= 0 and 200 <= status < 300:
                body = os.pread(handles[number], end - start, offset + start)
                head = b'{"custom_id":' + json.dumps(custom_id, ensure_ascii=False).encode()
                out.write(head + b',"status_code":' + str(status).encode() + b',"response":')
                out.write(body)
                out.write(b"}\n")
                counts.succeeded += 1
                continue
            line = _parse(os.pread(handles[number], length, offset))
            out.write(_dump(convert(line, counts)))
    finally:
        for handle in handles:
            os.close(handle)


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

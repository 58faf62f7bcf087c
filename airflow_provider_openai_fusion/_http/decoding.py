"""
``Content-Encoding`` decoded by the provider itself, from the raw stream, in bounded steps.

httpx decodes a whole read at once and applies every coding of a stacked header (``gzip, gzip``) in turn, so one
64 KiB read of a double-gzipped answer can expand to hundreds of MiB before any size check sees a byte. Here the
drivers read the raw bytes (``iter_raw``) and feed them to a :class:`ContentDecoder`: at most one coding (``gzip``
or ``deflate``, the two the client announces in ``Accept-Encoding``; ``identity`` is no coding), decoded with
``zlib.decompressobj().decompress(data, max_length)`` so that no step yields more than ``step`` bytes, each step
counted against the call's cap before the next one runs. Any other coding, a second coding, corrupt compressed
data or bytes after its end are refused with a clear error.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from airflow_provider_openai_fusion.exceptions import APIResponseValidationError

ACCEPTED_ENCODINGS = "gzip, deflate"
"""What the client announces in ``Accept-Encoding``: the codings :class:`ContentDecoder` decodes."""
STEP = 1 << 20
"""The most decoded bytes one decompression step may produce."""
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


def codings(header: str | None) -> list[str]:
    """
    The codings of a ``Content-Encoding`` header, in the order they were applied, ``identity`` left out.

    :param header: the header's value (``None`` when absent).
    """
    return [name for part in (header or "").split(",") if (name := part.strip().lower()) and name != "identity"]


class ContentDecoder:
    """
    Decodes one answer's body from its raw bytes, at most ``step`` decoded bytes at a time.

    :param header: the answer's ``Content-Encoding``.
    :param what: the call, for messages (``GET /files/x/content``).
    :param request_id: the answer's ``x-request-id``, for errors.
    :param step: the most decoded bytes one step may yield.
    """

    def __init__(self, header: str | None, what: str, request_id: str | None, step: int = STEP) -> None:
        self.what = what
        self.request_id = request_id
        self.step = step
        found = codings(header)
        if len(found) > 1:
            raise self._error(
                f"is encoded {len(found)} times (Content-Encoding: {', '.join(found)[:100]}); at most one coding "
                "is accepted"
            )
        if found and found[0] not in _WBITS:
            raise self._error(
                f"uses Content-Encoding {found[0][:40]!r}, which the client did not ask for (it accepts "
                f"{ACCEPTED_ENCODINGS})"
            )
        self.coding = found[0] if found else None
        self._zlib = zlib.decompressobj(_WBITS[self.coding]) if self.coding else None
        self._started = False

    def _error(self, reason: str) -> APIResponseValidationError:
        return APIResponseValidationError(f"the answer to {self.what} {reason}", request_id=self.request_id)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """
        Decode one raw chunk; yield its output in pieces of at most ``step`` bytes.

        :param data: the next raw bytes of the body.
        """
        if self._zlib is None:
            if data:
                yield data
            return
        if self._zlib.eof:
            if data:
                raise self._error(f"has {len(data):,} bytes after the end of its {self.coding} data")
            return
        while True:
            try:
                piece = self._zlib.decompress(data, self.step)
            except zlib.error:
                if self.coding != "deflate" or self._started:
                    raise self._error(f"is not valid {self.coding} data") from None
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # a raw deflate stream, as some servers send
                self._started = True
                continue
            self._started = True
            data = self._zlib.unconsumed_tail
            if piece:
                yield piece
            if self._zlib.eof:
                if data or self._zlib.unused_data:
                    extra = len(data) + len(self._zlib.unused_data)
                    raise self._error(f"has {extra:,} bytes after the end of its {self.coding} data")
                return
            if not data and len(piece) < self.step:
                return

    def finish(self) -> None:
        """Check that the compressed data ended where the body did (a cut stream is refused)."""
        if self._zlib is not None and self._started and not self._zlib.eof:
            raise self._error(f"ends in the middle of its {self.coding} data")

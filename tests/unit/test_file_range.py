"""
A part of a large upload read as a file of its own (``FilePart`` with an offset): reads, seeks and the missing
file descriptor. Cases added for mutants of ``_http/request.py`` that survived the upload tests
(scripts/mutation.sh http).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_provider_openai_fusion._http.request import FilePart


def test_a_range_reads_and_seeks_within_itself(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789abcdef")
    with FilePart("data", path, offset=4, length=8).open() as part:
        assert part.read(0) == b""
        assert part.read(3) == b"456"
        assert part.seek(-2, os.SEEK_CUR) == 1
        assert part.read() == b"56789ab"
        assert part.seek(0, os.SEEK_END) == 8
        assert part.seek(-20, os.SEEK_END) == 0
        assert part.read(None) == b"456789ab"  # type: ignore[arg-type]


def test_a_range_has_no_file_descriptor_that_could_measure_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789")
    with (
        FilePart("data", path, offset=2).open() as part,
        pytest.raises(OSError, match=r"^a file range has no file descriptor of its own$"),
    ):
        part.fileno()

"""
The writers of a joined batch result file: ranges spliced through a pipe into a file with a descriptor (by two
threads, segment by segment, into a regular file), or buffered into one without; the same bytes either way,
whatever the output and the shape of the lines; a worker's error reaches the caller, and no thread outlives the
writer.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import threading
from pathlib import Path

import pytest

from airflow_provider_openai_fusion.operators._batch_output import SEGMENT, BufferedOutput, PipedOutput, output
from airflow_provider_openai_fusion.operators._batch_results import Counts, ResultIndex, write_joined

needs_splice = pytest.mark.skipif(not hasattr(os, "splice"), reason="splice is Linux's")


def result(custom_id: str, body: object, status: int = 200) -> str:
    response = {"status_code": status, "request_id": "req_1", "body": body}
    return json.dumps({"id": f"batch_req_{custom_id}", "custom_id": custom_id, "response": response, "error": None})


def batch_files(tmp_path: Path) -> tuple[list[str], list[Path]]:
    """
    400 shuffled lines (some of 1.2 MB, more than a pipe holds), a run already in order, an error file whose last
    line has no newline, lines in another layout (parsed and rewritten) and ids without a line.
    """
    rng = random.Random(7)
    ids = [f"r{n}" for n in range(400)]
    bodies = {
        cid: {"vector": [round(rng.random(), 6)] * (130_000 if n % 97 == 0 else rng.randrange(1, 3000))}
        for n, cid in enumerate(ids)
    }
    shuffled = ids[:300]
    rng.shuffle(shuffled)
    output_lines = [result(cid, bodies[cid]) for cid in shuffled + ids[300:380]]
    for n in range(5, 300, 10):
        output_lines[n] = json.dumps({"custom_id": shuffled[n], "response": {"status_code": 200, "body": {"x": n}}})
    error_lines = [result(cid, {"error": {"message": "no"}}, 400) for cid in ids[380:395]]
    paths = [tmp_path / "output.jsonl", tmp_path / "errors.jsonl"]
    paths[0].write_text("\n".join(output_lines) + "\n")
    paths[1].write_text("\n".join(error_lines))
    return ids, paths


def joined_in_memory(ids: list[str], paths: list[Path]) -> bytes:
    out = io.BytesIO()
    write_joined(ids, ResultIndex(paths, ids).build(), out, Counts())
    return out.getvalue()


def test_an_in_memory_output_is_buffered_and_a_file_piped(tmp_path: Path) -> None:
    assert isinstance(output(io.BytesIO()), BufferedOutput)
    with gzip.open(tmp_path / "out.gz", "wb") as compressed:
        assert isinstance(output(compressed), BufferedOutput)  # it has its file's descriptor, not its bytes
    with (tmp_path / "out").open("wb") as out:
        writer = output(out)
        writer.close()
    assert isinstance(writer, PipedOutput if hasattr(os, "splice") else BufferedOutput)


@needs_splice
@pytest.mark.parametrize("mode", ["wb", "ab"], ids=["spliced out", "appending: read and written out"])
def test_a_file_gets_the_same_bytes_as_memory_after_what_it_held(tmp_path: Path, mode: str) -> None:
    ids, paths = batch_files(tmp_path)
    expected = joined_in_memory(ids, paths)
    lines = expected.splitlines()
    assert len(lines) == 400 and json.loads(lines[394])["response"]["status_code"] == 400
    assert [json.loads(line)["custom_id"] for line in lines] == ids
    target = tmp_path / "joined.jsonl"
    target.write_bytes(b"before\n")
    counts = Counts()
    with target.open(mode) as out:
        if mode == "wb":
            out.write(b"before\n")
        write_joined(ids, ResultIndex(paths, ids).build(), out, counts)
        assert out.tell() == len(expected) + 7
        out.write(b"after\n")
    assert target.read_bytes() == b"before\n" + expected + b"after\n"
    assert counts.as_dict() == {"total": 400, "succeeded": 380, "failed": 20, "expired": 0}


@needs_splice
def test_a_pipe_gets_the_same_bytes_too(tmp_path: Path) -> None:
    ids, paths = batch_files(tmp_path)
    reader, writer = os.pipe()
    received: list[bytes] = []

    def read() -> None:
        while chunk := os.read(reader, 1 << 20):
            received.append(chunk)

    thread = threading.Thread(target=read)
    thread.start()
    with os.fdopen(writer, "wb") as out:
        write_joined(ids, ResultIndex(paths, ids).build(), out, Counts())
    thread.join(timeout=60)
    os.close(reader)
    assert b"".join(received) == joined_in_memory(ids, paths)


def writer_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("batch-join-writer")]


def segment_files(tmp_path: Path, shape: str) -> tuple[list[str], list[Path]]:
    """
    Result files of several segments in ``shape``: many small shuffled lines; lines longer than a segment among
    small ones; or a run already in input order over several segments, then shuffled lines. Every shape also has
    lines in another layout and ids without a line (both written as generated lines between the ranges) and an
    error file whose last line has no newline.
    """
    rng = random.Random(shape)
    count = {"many small lines": 6000, "lines over a segment": 300, "runs": 8000}[shape]
    sizes = [rng.randrange(100, 6000) for _ in range(count)]
    if shape == "lines over a segment":
        sizes[7], sizes[150], sizes[299] = SEGMENT + 1, 2 * SEGMENT + 5, SEGMENT - 300
    ids = [f"r{n}" for n in range(count)]
    in_order = 6000 if shape == "runs" else 0  # one range of about 18 MB
    shuffled = list(range(in_order, count - 40))
    rng.shuffle(shuffled)
    lines = [
        result(ids[n], {"text": "x" * sizes[n]})
        if n % 37 or n < in_order
        else json.dumps({"custom_id": ids[n], "response": {"status_code": 200, "body": {"x": n}}})
        for n in [*range(in_order), *shuffled]
    ]
    paths = [tmp_path / "output.jsonl", tmp_path / "errors.jsonl"]
    paths[0].write_text("\n".join(lines) + "\n")
    paths[1].write_text("\n".join(result(cid, {"error": {"message": "no"}}, 400) for cid in ids[count - 40 : -10]))
    return ids, paths


@needs_splice
@pytest.mark.parametrize("shape", ["many small lines", "lines over a segment", "runs"])
@pytest.mark.parametrize("mode", ["wb", "ab"], ids=["by threads at offsets", "appending: in order"])
def test_a_join_of_many_segments_gets_the_same_bytes_as_memory_after_what_the_file_held(
    tmp_path: Path, shape: str, mode: str
) -> None:
    ids, paths = segment_files(tmp_path, shape)
    expected = joined_in_memory(ids, paths)
    assert len(expected) > 2 * SEGMENT
    assert [json.loads(line)["custom_id"] for line in expected.splitlines()] == ids
    target = tmp_path / "joined.jsonl"
    target.write_bytes(b"an earlier batch\n")
    with target.open(mode) as out:
        if mode == "wb":
            out.write(b"an earlier batch\n")
        write_joined(ids, ResultIndex(paths, ids).build(), out, Counts())
        assert out.tell() == len(expected) + 17
        out.write(b"after\n")
    assert target.read_bytes() == b"an earlier batch\n" + expected + b"after\n"
    assert writer_threads() == []


@needs_splice
def test_segments_go_to_threads_only_past_the_first_and_the_threads_end_with_the_writer(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(bytes(range(256)) * (3 * SEGMENT // 256))
    handle = os.open(source, os.O_RDONLY)
    try:
        with (tmp_path / "small").open("wb") as out:
            writer = output(out)
            try:
                writer.put_from(handle, SEGMENT - 2, 1)
                writer.put(b"\n")
                writer.flush()
                assert writer_threads() == []  # less than a segment: written by the caller
            finally:
                writer.close()
        seen: list[object] = []

        def write_large() -> None:  # from a daemon thread: the workers are still not daemons
            with (tmp_path / "large").open("wb") as out:
                writer = output(out)
                try:
                    writer.put_from(handle, 3 * SEGMENT - 7, 7)
                    seen.append([thread.daemon for thread in writer_threads()])
                    writer.put(b"\n")
                    writer.flush()
                    seen.append(out.tell())
                finally:
                    writer.close()

        caller = threading.Thread(target=write_large, daemon=True)
        caller.start()
        caller.join(timeout=60)
        assert seen == [[False, False], 3 * SEGMENT - 6]
        assert writer_threads() == []
    finally:
        os.close(handle)
    assert (tmp_path / "small").read_bytes() == source.read_bytes()[1 : SEGMENT - 1] + b"\n"
    assert (tmp_path / "large").read_bytes() == source.read_bytes()[7:] + b"\n"


@needs_splice
@pytest.mark.timeout(60)
@pytest.mark.parametrize("lines", [20, 6000], ids=["one segment", "many segments"])
@pytest.mark.parametrize("mode", ["wb", "ab"])
def test_a_file_shorter_than_indexed_is_an_error_never_a_hang(tmp_path: Path, lines: int, mode: str) -> None:
    ids = [f"r{n}" for n in range(lines)]
    order = ids[:]
    random.Random(3).shuffle(order)
    last = ids[lines * 2 // 3]  # the file's last line comes two thirds into the join: after the first segment
    order.remove(last)
    source = tmp_path / "output.jsonl"
    source.write_text("".join(result(cid, {"text": "x" * 3000}) + "\n" for cid in [*order, last]))
    index = ResultIndex([source], ids).build()
    cut = source.stat().st_size - 1000
    os.truncate(source, cut)
    shorter = rf"^a downloaded result file is shorter than indexed \(at byte {cut}\)$"
    with (tmp_path / "joined.jsonl").open(mode) as out, pytest.raises(OSError, match=shorter):
        write_joined(ids, index, out, Counts())
    assert writer_threads() == []


@needs_splice
@pytest.mark.timeout(60)
def test_a_worker_error_stops_the_caller_with_a_full_queue_and_ends_the_threads(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"x" * 1000)
    handle = os.open(source, os.O_RDONLY)
    try:
        with (tmp_path / "joined").open("wb") as out:
            writer = output(out)
            try:
                with pytest.raises(OSError, match=r"shorter than indexed \(at byte 1000\)"):
                    for _ in range(1000):  # 8 GiB asked for: the caller stops long before
                        writer.put_from(handle, SEGMENT, 0)
                with pytest.raises(OSError, match=r"shorter than indexed"):
                    writer.flush()
            finally:
                writer.close()
    finally:
        os.close(handle)
    assert writer_threads() == []

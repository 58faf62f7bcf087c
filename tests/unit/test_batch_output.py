"""
The writers of a joined batch result file: ranges spliced through a pipe into a file with a descriptor, or
buffered into one without; the same bytes either way, whatever the output.
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

from airflow_provider_openai_fusion.operators._batch_output import BufferedOutput, PipedOutput, output
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

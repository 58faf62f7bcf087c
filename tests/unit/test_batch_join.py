"""The join of a batch's result files into input order: every layout, lines across read chunks, counts, usage."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion.api.batch_input import request_items, write_parts
from airflow_provider_openai_fusion.operators._batch_results import (
    Counts,
    ResultIndex,
    convert,
    sum_usage,
    write_joined,
)

IDS = ["a", 'quote"d', "back\\slash", "ünï", "tab\tid", "long-" + "x" * 400, "plain"]


def result(custom_id: str, body: Any, status: int = 200, compact: bool = False) -> str:
    line = {
        "id": f"batch_req_{abs(hash(custom_id))}",
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": "req_1", "body": body},
        "error": None,
    }
    return json.dumps(line, separators=(",", ":") if compact else (", ", ": "), ensure_ascii=compact)


def expected(custom_ids: list[str], lines: list[str], missing: str) -> list[dict[str, Any]]:
    """The reference: every line parsed and converted."""
    by_id = {json.loads(line)["custom_id"]: json.loads(line) for line in lines}
    counts = Counts()
    return [
        convert(by_id[cid], counts) if cid in by_id else {"custom_id": cid, "error": {"code": missing}}
        for cid in custom_ids
    ]


@pytest.mark.parametrize("to_file", [True, False], ids=["file (kernel copy)", "in memory"])
@pytest.mark.parametrize("chunk_size", [64, 1000, 1 << 20])
def test_the_join_matches_parsing_every_line_whatever_the_layout_and_chunking(
    tmp_path: Path, chunk_size: int, to_file: bool
) -> None:
    bodies = {cid: {"value": n, "vector": [0.5 * n] * 30, "text": f"{cid} \u2028 {{}}"} for n, cid in enumerate(IDS)}
    lines = [result(cid, body, compact=n % 2 == 1) for n, (cid, body) in enumerate(bodies.items())]
    lines[2] = json.dumps({"custom_id": IDS[2], "error": None, "response": {"status_code": 200, "body": {"x": 1}}})
    lines.append(result("failed", {"error": {"message": "no", "code": "bad"}}, 400))
    lines.append(json.dumps({"id": "r", "custom_id": "gone", "response": None, "error": {"code": "batch_expired"}}))
    random.Random(1).shuffle(lines)
    output = tmp_path / "output.jsonl"
    output.write_text("\n".join(lines[:6]) + "\n\n")
    errors = tmp_path / "errors.jsonl"
    errors.write_text("\n".join(lines[6:]))  # no newline at the end
    custom_ids = ["failed", *IDS, "gone", "never-ran"]
    index = ResultIndex([output, errors], chunk_size=chunk_size).build()
    counts = Counts()
    with (tmp_path / "joined.jsonl").open("w+b") if to_file else io.BytesIO() as out:
        out.write(b"kept\n")
        write_joined(custom_ids, index, out, counts, "expired")
        out.write(b"after\n")
        out.seek(0)
        written = out.read().split(b"\n")
    assert written[0] == b"kept" and written[-2:] == [b"after", b""]
    joined = [json.loads(line) for line in written[1:-2]]
    assert joined == expected(custom_ids, lines, "expired")
    assert counts.as_dict() == {"total": 10, "succeeded": 7, "failed": 1, "expired": 2}
    assert joined[-2] == {"custom_id": "gone", "error": {"code": "expired"}}


def test_a_repeated_line_is_written_once_and_counted(tmp_path: Path) -> None:
    output = tmp_path / "output.jsonl"
    output.write_text(result("a", {"n": 1}) + "\n" + result("a", {"n": 2}) + "\n")
    index = ResultIndex([output]).build()
    out = io.BytesIO()
    write_joined(["a", "b"], index, out, Counts(), "missing")
    assert index.duplicates == 1
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"custom_id": "a", "status_code": 200, "response": {"n": 1}},
        {"custom_id": "b", "error": {"code": "missing"}},
    ]


def test_usage_sums_nested_counts() -> None:
    total = sum_usage({}, {"input_tokens": 2, "input_tokens_details": {"cached_tokens": 1}, "note": "x"})
    total = sum_usage(total, {"input_tokens": 3, "input_tokens_details": {"cached_tokens": 2}})
    assert sum_usage(total, None) == {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 3}}


def test_parts_split_at_each_limit_and_are_the_same_bytes_every_time(tmp_path: Path) -> None:
    many = [{"model": "text-embedding-3-small", "input": ["t"] * 2000} for _ in range(26)]
    by_inputs = write_parts("/v1/embeddings", request_items(many), tmp_path, argument="requests")
    assert [len(part.custom_ids) for part in by_inputs] == [25, 1]
    texts = many[:5]
    for folder in "bcd":
        (tmp_path / folder).mkdir()
    by_count = write_parts("/v1/embeddings", request_items(texts), tmp_path / "b", argument="requests", max_requests=2)
    assert [part.custom_ids for part in by_count] == [
        ["request-0", "request-1"],
        ["request-2", "request-3"],
        ["request-4"],
    ]
    size = by_count[0].size // 2 + 10
    by_bytes = write_parts("/v1/embeddings", request_items(texts), tmp_path / "c", argument="requests", max_bytes=size)
    assert len(by_bytes) == 5 and all(part.size <= size for part in by_bytes)
    assert [part.digest for part in by_bytes[:1]] != [by_count[0].digest]
    again = write_parts("/v1/embeddings", request_items(texts), tmp_path / "d", argument="requests", max_requests=2)
    assert [part.digest for part in again] == [part.digest for part in by_count]
    assert by_count[0].path.read_text().splitlines()[0].startswith('{"custom_id":"request-0","method":"POST"')

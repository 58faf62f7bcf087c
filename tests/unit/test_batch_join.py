"""
The join of a batch's result files into input order: OpenAI's line shape kept, every layout, only asked-for ids,
line caps, checked spans, counts, usage.
"""

from __future__ import annotations

import io
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion.api.batch_input import request_items, write_parts
from airflow_provider_openai_fusion.operators._batch_output import CHUNK
from airflow_provider_openai_fusion.operators._batch_results import (
    COPY,
    DROP_EVERY,
    MAX_PARSED_LINE_BYTES,
    Counts,
    ResultIndex,
    error_line,
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


def join(tmp_path: Path, custom_ids: list[str], *contents: str, missing: str = "missing", **options: Any) -> Any:
    paths = []
    for number, content in enumerate(contents):
        paths.append(tmp_path / f"file{number}.jsonl")
        paths[-1].write_text(content)
    index = ResultIndex(paths, custom_ids, **options).build()
    assert_followed_alike(index, paths, custom_ids, **options)
    counts, out = Counts(), io.BytesIO()
    write_joined(custom_ids, index, out, counts, missing)
    return [json.loads(line) for line in out.getvalue().splitlines()], counts, index, out.getvalue()


def pieces(data: bytes, seed: int) -> Iterator[bytes]:
    """
    ``data`` cut as a download might: seed 0 cuts before and after every newline (a piece that is one newline,
    a piece that starts with one), any other seed at random sizes (a byte, a few, a page, the 64 KiB a socket read
    gives, more).
    """
    if seed == 0:
        yield from (part for part in re.split(rb"(\n)", data) if part)
        return
    rng, offset = random.Random(seed), 0
    while offset < len(data):
        size = rng.choice([1, 2, 7, 100, 4096, 65536, rng.randint(1, 300_000)])
        yield data[offset : offset + size]
        offset += size


def follow(paths: list[Path], custom_ids: list[str], seed: int = 0, **options: Any) -> ResultIndex:
    """
    The index of ``paths`` built as their downloads write them (cut by :func:`pieces`), each file's first attempt
    broken off after three pieces and started again.
    """
    index = ResultIndex([], custom_ids, **options)
    for path in paths:
        data, follower = path.read_bytes(), index.follow(path)
        follower.restart()
        for _, piece in zip(range(3), pieces(data, seed + 1), strict=False):
            follower.feed(piece)
        follower.restart()
        for piece in pieces(data, seed):
            follower.feed(piece)
        follower.done()
    return index


def assert_followed_alike(index: ResultIndex, paths: list[Path], custom_ids: list[str], **options: Any) -> None:
    """The index built while downloading is the one built from the files, whatever the pieces."""
    for seed in range(3):
        followed = follow(paths, custom_ids, seed, **options)
        assert followed.files == index.files
        assert followed.lines == index.lines
        assert followed.reasons == index.reasons
        assert (followed.duplicates, followed.unexpected) == (index.duplicates, index.unexpected)


def test_the_join_keeps_openais_line_shape_whatever_the_layout(tmp_path: Path) -> None:
    bodies = {cid: {"value": n, "vector": [0.5 * n] * 3000, "text": f"{cid} \u2028 {{}}"} for n, cid in enumerate(IDS)}
    lines = [result(cid, body, compact=n % 2 == 1) for n, (cid, body) in enumerate(bodies.items())]
    other_order = {"custom_id": IDS[2], "error": None, "response": {"status_code": 200, "body": {"x": 1}}}
    lines[2] = json.dumps(other_order)
    lines.append(result("failed", {"error": {"message": "no", "code": "bad"}}, 400))
    gone = {"id": "r", "custom_id": "gone", "response": None, "error": {"code": "batch_expired", "message": "late"}}
    lines.append(json.dumps(gone))
    random.Random(1).shuffle(lines)
    custom_ids = ["failed", *IDS, "gone", "never-ran"]
    joined, counts, _, _ = join(
        tmp_path,
        custom_ids,
        "\n".join(lines[:6]) + "\n\n",
        "\n".join(lines[6:]),  # no newline at the end
        missing="batch_expired",
    )
    by_id = {json.loads(line)["custom_id"]: json.loads(line) for line in lines}
    assert [line["custom_id"] for line in joined] == custom_ids
    assert joined[:-1] == [by_id[cid] for cid in custom_ids[:-1]]
    assert joined[-1] == error_line("never-ran", "batch_expired", "the batch expired (no result line)")
    assert counts.as_dict() == {"total": 10, "succeeded": 7, "failed": 1, "expired": 2}


def test_lines_already_in_order_are_copied_byte_for_byte(tmp_path: Path) -> None:
    lines = [result(f"r{n}", {"vector": [n / 3] * 2000}) for n in range(20)]
    content = "\n".join(lines) + "\n"
    _, counts, _, raw = join(tmp_path, [f"r{n}" for n in range(20)], content)
    assert raw == content.encode()
    assert counts.succeeded == 20


def test_a_run_of_lines_in_order_larger_than_the_write_buffer_is_copied_byte_for_byte(tmp_path: Path) -> None:
    """The run is read in buffer-sized steps: no newline may be added where a step ends inside a line."""
    lines = [result(f"r{n}", {"vector": [n / 3] * 30_000}) for n in range(12)]
    content = "\n".join(lines) + "\n"
    assert len(content) > CHUNK
    _, counts, _, raw = join(tmp_path, [f"r{n}" for n in range(12)], content)
    assert raw == content.encode()
    assert counts.succeeded == 12


def test_only_the_asked_for_ids_are_indexed(tmp_path: Path) -> None:
    lines = [result(f"x{n}", {"n": n}) for n in range(1000)] + [result("mine", {"n": -1})]
    joined, _, index, _ = join(tmp_path, ["mine"], "\n".join(lines) + "\n")
    assert list(index.lines) == ["mine"] and index.unexpected == 1000
    assert joined[0]["response"]["body"] == {"n": -1}


def test_a_repeated_line_is_written_once_and_counted(tmp_path: Path) -> None:
    joined, _, index, _ = join(tmp_path, ["a", "b"], result("a", {"n": 1}) + "\n" + result("a", {"n": 2}) + "\n")
    assert index.duplicates == 1
    assert joined[0]["response"]["body"] == {"n": 1}
    assert joined[1] == error_line(
        "b", "missing", "the batch completed without a result line for this request (no result line)"
    )


@pytest.mark.parametrize("size", [100, 20_000], ids=["short body", "long body"])
def test_a_key_injected_after_the_body_cannot_change_the_id_or_status(tmp_path: Path, size: int) -> None:
    """
    The body closes early and the server adds ``custom_id`` and ``response`` keys: a JSON parser would read the
    line as ``b`` with status 500. The line is not copied; it becomes ``a``'s error row.
    """
    vector = ", ".join(["0.25"] * (size // 6))
    line = (
        '{"id": "x", "custom_id": "a", "response": {"status_code": 200, "request_id": "r", "body": {"data": ['
        + vector
        + ']}}, "custom_id": "b", "response": {"status_code": 500, "body": {"v": ['
        + vector
        + ']}}, "error": null}'
    )
    assert json.loads(line)["custom_id"] == "b"
    joined, counts, _, _ = join(tmp_path, ["a", "b"], line + "\n")
    assert joined[0]["custom_id"] == "a" and joined[0]["error"]["code"] == "result_line_invalid"
    assert "appears twice" in joined[0]["error"]["message"]
    assert joined[1]["error"]["code"] == "missing"
    assert counts.as_dict() == {"total": 2, "succeeded": 0, "failed": 2, "expired": 0}


def test_an_escaped_duplicate_key_is_caught_too(tmp_path: Path) -> None:
    line = (
        '{"id": "x", "custom_id": "a", "response": {"status_code": 200, "request_id": "r", "body": {"k": 1}}, '
        '"error": null, "custom\\u005fid": "b"}'
    )
    joined, counts, _, _ = join(tmp_path, ["a", "b"], line + "\n")
    assert [row["error"]["code"] for row in joined] == ["result_line_invalid", "missing"]
    assert counts.succeeded == 0


def test_an_oversized_line_is_its_requests_error_row(tmp_path: Path) -> None:
    big = result("big", {"vector": [0.5] * 50_000})
    other = json.dumps({"custom_id": "other", "response": {"status_code": 200, "body": {"t": "y" * 50_000}}})
    joined, counts, _, _ = join(
        tmp_path, ["big", "small", "other"], "\n".join([big, result("small", {}), other]) + "\n", max_line_bytes=4096
    )
    assert joined[0]["error"]["code"] == "result_line_too_large"
    assert f"{len(big) + 1:,} bytes, over the 4,096-byte cap" in joined[0]["error"]["message"]
    assert joined[1]["response"]["body"] == {}
    assert joined[2]["error"]["code"] == "result_line_too_large"
    assert counts.as_dict() == {"total": 3, "succeeded": 1, "failed": 2, "expired": 0}


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


def test_a_join_needs_only_the_batch_and_its_input_file(tmp_path: Path, make_hook: Any) -> None:
    """What a results-only caller has: the batch object and its ``input_file_id`` (no operator state)."""
    import httpx

    from airflow_provider_openai_fusion.operators._batch_results import input_custom_ids, join_batch

    inputs = b"".join(
        b'{"custom_id": "q%d", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n' % n for n in range(3)
    )
    output = (result("q2", {"n": 2}) + "\n" + result("q0", {"n": 0}) + "\n").encode()
    contents = {"file-in": inputs, "file-out": output}

    def answer(request: httpx.Request) -> httpx.Response:
        file_id = request.url.path.split("/")[3]
        assert request.method == "GET", request
        if request.url.path.endswith("/content"):
            return httpx.Response(200, content=contents[file_id])
        return httpx.Response(200, json={"id": file_id, "object": "file", "bytes": len(contents[file_id])})

    hook = make_hook(answer)
    batch = {"id": "b", "endpoint": "/v1/chat/completions", "status": "completed", "output_file_id": "file-out"}
    custom_ids = input_custom_ids(hook, "file-in", tmp_path)
    counts, out = Counts(), io.BytesIO()
    join_batch(hook, batch, custom_ids, tmp_path, out, counts)
    joined = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["custom_id"] for line in joined] == ["q0", "q1", "q2"]
    assert joined[1]["error"]["code"] == "missing"
    assert counts.as_dict() == {"total": 3, "succeeded": 2, "failed": 1, "expired": 0}
    assert list(tmp_path.iterdir()) == []


def test_lines_longer_than_a_scan_window_are_found_whole(tmp_path: Path) -> None:
    """
    A line with no newline in the first 16 MiB after its start is searched window by window: one of exactly two
    windows and a byte (its newline the first byte of the third), then a last line with no newline at all.
    """
    head = result("long", {"text": ""}, compact=True)
    cut = head.index('""') + 1
    long = head[:cut] + "x" * ((2 * DROP_EVERY + 1) - len(head) - 1) + head[cut:]
    lines = [result("a", {"n": 1}), long, result("b", {"n": 2})]
    assert len(long) + 1 == 2 * DROP_EVERY + 1
    content = "\n".join(lines)  # no newline at the end
    _, counts, index, raw = join(tmp_path, ["a", "long", "b"], content)
    assert raw == (content + "\n").encode()
    assert index.lines["long"][1:3] == (len(lines[0]) + 1, 2 * DROP_EVERY + 1)
    assert counts.as_dict() == {"total": 3, "succeeded": 3, "failed": 0, "expired": 0}


def injected(custom_id: str, length: int) -> str:
    """A line of ``length`` bytes (newline included) whose body closes early, followed by an injected key."""
    head = '{"id": "x", "custom_id": "' + custom_id + '", "response": {"status_code": 200, "request_id": "r", "body": '
    tail = '{"pad": ""}}, "custom_id": "other", "response": {"status_code": 500, "body": {}}, "error": null}'
    return head + tail[:9] + "x" * (length - 1 - len(head) - len(tail)) + tail[9:]


def test_a_line_with_an_injected_key_is_refused_wherever_it_is_and_at_every_size(tmp_path: Path) -> None:
    """
    Lines after the first, one exactly at the line cap, one exactly at the most that is parsed (refused for the
    repeated key it holds) and one a byte longer (refused unparsed).
    """
    lines = [result("a", {"n": 1}), injected("capped", 4096), injected("parsed", MAX_PARSED_LINE_BYTES)]
    lines.append(injected("unparsed", MAX_PARSED_LINE_BYTES + 1))
    assert [len(line) + 1 for line in lines[1:]] == [4096, MAX_PARSED_LINE_BYTES, MAX_PARSED_LINE_BYTES + 1]
    ids = ["a", "capped", "parsed", "unparsed"]
    joined, counts, _, _ = join(tmp_path, ids, "\n".join(lines) + "\n", max_line_bytes=4096)
    assert [row["error"]["code"] for row in joined[1:]] == [
        "result_line_invalid",
        "result_line_too_large",
        "result_line_too_large",
    ]
    assert (
        joined[1]["error"]["message"] == "the result line is refused: the key 'custom_id' appears twice in one object"
    )
    joined, counts, _, _ = join(tmp_path, ids, "\n".join(lines) + "\n")
    assert [row["error"]["code"] for row in joined[1:]] == ["result_line_invalid"] * 3
    refused = "the result line is refused: the key 'custom_id' appears twice in one object"
    assert [row["error"]["message"] for row in joined[1:]] == [
        refused,
        refused,
        "the result line's body is not one JSON object (a key after it would change the line)",
    ]
    assert counts.as_dict() == {"total": 4, "succeeded": 1, "failed": 3, "expired": 0}


@pytest.mark.parametrize(("declared", "refused"), [(1000, True), (True, False), ("1000", False)])
def test_the_input_file_is_read_within_its_declared_size(
    tmp_path: Path, make_hook: Any, declared: Any, refused: bool
) -> None:
    """Its ``bytes`` bound the download (with a slack of 1 % and 64 KiB); a ``bytes`` that is no integer is ignored."""
    import httpx

    from airflow_provider_openai_fusion.exceptions import APIResponseValidationError
    from airflow_provider_openai_fusion.operators._batch_results import input_custom_ids

    inputs = b"".join(b'{"custom_id": "q%d", "body": {"pad": "%s"}}\n' % (n, b"x" * 1000) for n in range(200))

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/content"):
            return httpx.Response(200, content=inputs)
        return httpx.Response(200, json={"id": "file-in", "object": "file", "bytes": declared})

    hook = make_hook(answer)
    if refused:
        with pytest.raises(APIResponseValidationError):
            input_custom_ids(hook, "file-in", tmp_path)
    else:
        assert input_custom_ids(hook, "file-in", tmp_path) == [f"q{n}" for n in range(200)]
    assert list(tmp_path.iterdir()) == []


def other_layout(custom_id: str, body: Any, **extra: Any) -> str:
    """A result line in another key order than OpenAI's usual one (parsed, not copied)."""
    return json.dumps({"custom_id": custom_id, "response": {"status_code": 200, "body": body}, "error": None, **extra})


def test_lines_in_another_layout_are_parsed_counted_and_refused_when_a_key_repeats(tmp_path: Path) -> None:
    long_key = "k" * 100
    body = '{"' + long_key + '": 1, "' + long_key + '": 2}'
    repeated = '{"custom_id": "twice", "response": {"status_code": 200, "body": ' + body + "}}"
    edge = other_layout("edge", {"pad": ""})
    edge = other_layout("edge", {"pad": "x" * (4095 - len(edge))})
    assert len(edge) + 1 == 4096
    lines = [
        "not JSON at all",
        "[1, 2]",
        "42",
        '[{"k": 1, "k": 2}]',
        other_layout("unknown-1", {}),
        other_layout("unknown-2", {}),
        other_layout("dup", {"n": 1}),
        other_layout("dup", {"n": 2}),
        other_layout("dup", {"n": 3}),
        repeated,
        edge,
    ]
    joined, counts, index, _ = join(tmp_path, ["dup", "twice", "edge"], "\n".join(lines) + "\n", max_line_bytes=4096)
    assert (index.unexpected, index.duplicates) == (2, 2)
    assert joined[0]["response"]["body"] == {"n": 1}
    assert joined[1] == error_line(
        "twice", "result_line_invalid", f"the result line is refused: the key '{'k' * 80}' appears twice in one object"
    )
    assert joined[2]["response"]["body"]["pad"] == "x" * (4095 - len(other_layout("edge", {"pad": ""})))
    assert counts.as_dict() == {"total": 3, "succeeded": 2, "failed": 1, "expired": 0}


def test_a_line_in_another_layout_too_long_to_parse_is_its_requests_error_row(tmp_path: Path) -> None:
    """Its id is read from its head only: an id nested further in is not its."""
    line = other_layout("big", {"pad": "x" * MAX_PARSED_LINE_BYTES, "nested": {"custom_id": "other"}})
    joined, counts, _, _ = join(tmp_path, ["big", "other"], line + "\n")
    assert joined[0] == error_line(
        "big",
        "result_line_too_large",
        f"the result line is {len(line) + 1:,} bytes and not in OpenAI's usual layout; at most 8,388,608 bytes of "
        "such a line are read",
    )
    assert joined[1]["error"]["code"] == "missing"
    assert counts.failed == 2


def test_the_scan_of_a_long_line_stops_at_its_own_newline(tmp_path: Path) -> None:
    """A line of one window and a bit, then short lines in the same window; then a file of exactly one window."""
    head = result("long", {"text": ""}, compact=True)
    cut = head.index('""') + 1
    long = head[:cut] + "x" * (DROP_EVERY + 100 - len(head)) + head[cut:]
    content = "\n".join([long, result("a", {"n": 1}), result("b", {"n": 2})]) + "\n"
    _, counts, index, raw = join(tmp_path, ["long", "a", "b"], content)
    assert raw == content.encode()
    assert index.lines["long"][1:3] == (0, len(long) + 1)
    whole = head[:cut] + "x" * (DROP_EVERY - len(head)) + head[cut:]
    assert len(whole) == DROP_EVERY
    _, counts, _, raw = join(tmp_path, ["long"], whole)  # no newline at the end
    assert raw == (whole + "\n").encode()
    assert counts.succeeded == 1


def test_a_written_row_is_compact_json_in_utf_8(tmp_path: Path) -> None:
    _, _, _, raw = join(tmp_path, ["ünï"], "")
    assert (
        raw
        == (
            '{"id":null,"custom_id":"ünï","response":null,"error":{"code":"missing","message":"the batch completed '
            'without a result line for this request (no result line)"}}\n'
        ).encode()
    )


def test_rows_for_requests_without_a_usable_line_say_why(tmp_path: Path) -> None:
    same_id = (
        '{"id": "x", "custom_id": "again", "response": {"status_code": 200, "request_id": "r", "body": {"n": 1}}, '
        '"custom_id": "again", "error": null}'
    )
    cut_short = '{"id": "x", "custom_id": "cut", "response": {"status_code": 200, "request_id": "r", "body": {"n": 1'
    joined, counts, _, _ = join(
        tmp_path, ["again", "cut", "never"], same_id + "\n" + cut_short + "\n", missing="batch_cancelled"
    )
    assert joined == [
        error_line(
            "again",
            "result_line_invalid",
            "the result line is refused: the key 'custom_id' appears twice in one object",
        ),
        error_line("cut", "result_line_invalid", "the result line is not a JSON object with this custom_id"),
        error_line("never", "batch_cancelled", "the batch was cancelled (no result line)"),
    ]
    assert counts.as_dict() == {"total": 3, "succeeded": 0, "failed": 2, "expired": 1}


def test_a_line_whose_id_is_not_utf_8_or_badly_escaped_is_skipped_as_not_asked_for(tmp_path: Path) -> None:
    """Bytes no input of ours can have as an id (invalid UTF-8, a bad escape) skip the line instead of the join."""
    good = result("a", {"n": 1}).encode()
    bad_utf8 = good.replace(b'"custom_id": "a"', b'"custom_id": "\xff\xfe"')
    bad_escape = good.replace(b'"custom_id": "a"', b'"custom_id": "x\\q"')
    path = tmp_path / "file0.jsonl"
    path.write_bytes(bad_utf8 + b"\n" + bad_escape + b"\n" + good + b"\n")
    index = ResultIndex([path], ["a"]).build()
    assert list(index.lines) == ["a"] and index.unexpected == 2


def test_a_long_line_in_another_layout_whose_id_is_not_utf_8_is_skipped(tmp_path: Path) -> None:
    line = other_layout("big", {"pad": "x" * MAX_PARSED_LINE_BYTES}).encode()
    path = tmp_path / "file0.jsonl"
    path.write_bytes(line.replace(b'"big"', b'"\xc3\x28"', 1) + b"\n")
    index = ResultIndex([path], ["big"]).build()
    assert index.lines == {} and index.unexpected == 1


def long_line(custom_id: str, length: int) -> str:
    """A result line in OpenAI's usual layout of ``length`` bytes, its newline not counted."""
    head = result(custom_id, {"text": ""})
    cut = head.index('""') + 1
    return head[:cut] + "x" * (length - len(head)) + head[cut:]


def test_a_line_too_long_to_hold_while_downloading_is_indexed_from_the_file_and_the_first_line_of_an_id_wins(
    tmp_path: Path,
) -> None:
    """
    A line over the 8 MiB held while a download goes on is indexed from the file afterwards; when its id also has
    shorter lines, the one earlier in the file is kept (with its reason, if it has one), whichever was indexed
    first, and the others count as repeated; a long line for an id not asked for counts as unexpected.
    """
    from airflow_provider_openai_fusion.operators._batch_follow import HELD_LINE_BYTES

    size = HELD_LINE_BYTES + 100
    short = result("a", {"text": "short"})
    refused = '{"id": "x", "custom_id": "a", "custom_id": "a", "response": null, "error": null}'
    scenarios = [
        ([long_line("a", size), short], long_line("a", size), 1, 1),
        ([short, long_line("a", size)], short, 1, 1),
        ([long_line("b", size + 2000), short, long_line("a", size)], short, 2, 1),
        ([long_line("a", size), refused, long_line("c", size), long_line("a", size)], long_line("a", size), 2, 2),
    ]
    for lines, kept, unexpected, duplicates in scenarios:
        content = "\n".join([*lines, result("d", {"n": 1})]) + "\n"
        _, counts, index, raw = join(tmp_path, ["a"], content)
        assert raw == (kept + "\n").encode()
        assert (index.unexpected, index.duplicates, index.reasons) == (unexpected, duplicates, {})
        assert counts.as_dict() == {"total": 1, "succeeded": 1, "failed": 0, "expired": 0}


def test_lines_up_to_the_held_size_are_indexed_from_the_pieces_alone(tmp_path: Path) -> None:
    """
    A line of exactly 8 MiB (its newline included) and the short lines around it are indexed from the download's
    pieces: the file is never read back (here it is not even there).
    """
    from airflow_provider_openai_fusion.operators._batch_follow import HELD_LINE_BYTES

    lines = [result("a", {"n": 0}), long_line("b", HELD_LINE_BYTES - 1), result("c", {"n": 2})]
    data = ("\n".join(lines) + "\n").encode()
    index = ResultIndex([], ["a", "b", "c"])
    follower = index.follow(tmp_path / "never-written.jsonl")
    follower.restart()
    for offset in range(0, len(data), 65536):
        follower.feed(data[offset : offset + 65536])
    follower.done()
    assert index.lines["b"][1:4] == (len(lines[0]) + 1, HELD_LINE_BYTES, COPY)
    assert [index.lines[custom_id][1] for custom_id in "ac"] == [0, len(lines[0]) + len(lines[1]) + 2]


def test_a_line_too_long_to_hold_is_not_held_while_it_downloads(tmp_path: Path) -> None:
    """A 24 MiB line arriving in 64 KiB pieces: at most the 8 MiB held size of it is ever kept in memory."""
    import tracemalloc

    path = tmp_path / "output.jsonl"
    path.write_text(long_line("a", 24 << 20) + "\n")
    index = ResultIndex([], ["a"])
    follower = index.follow(path)
    follower.restart()
    tracemalloc.start()
    try:
        with path.open("rb", buffering=0) as source:
            while piece := source.read(65536):
                follower.feed(piece)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    follower.done()
    assert peak < 10 << 20, peak
    assert index.lines["a"][1:4] == (0, (24 << 20) + 1, COPY)


def test_a_download_broken_off_and_retried_is_indexed_once(tmp_path: Path, make_hook: Any) -> None:
    """The first attempt at the output file breaks after two of its lines; the retry's index starts again."""
    import httpx

    from airflow_provider_openai_fusion.operators._batch_results import join_batch

    lines = [(result(f"q{n}", {"n": n}) + "\n").encode() for n in (2, 0, 1)]
    output = b"".join(lines)
    attempts: list[str] = []

    class Broken(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield lines[0] + lines[1][:10]
            raise httpx.ReadError("connection reset")

    def answer(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/content"):
            return httpx.Response(200, json={"id": "file-out", "object": "file", "bytes": len(output)})
        attempts.append(request.url.path)
        if len(attempts) == 1:
            return httpx.Response(200, stream=Broken())
        return httpx.Response(200, content=output)

    hook = make_hook(answer, max_retries=1)
    batch = {"id": "b", "endpoint": "/v1/chat/completions", "status": "completed", "output_file_id": "file-out"}
    counts, out = Counts(), io.BytesIO()
    index = join_batch(hook, batch, ["q0", "q1", "q2"], tmp_path, out, counts)
    assert len(attempts) == 2
    assert out.getvalue() == lines[1] + lines[2] + lines[0]
    assert (index.duplicates, index.unexpected) == (0, 0)
    assert counts.as_dict() == {"total": 3, "succeeded": 3, "failed": 0, "expired": 0}


def test_blank_lines_between_result_lines_are_skipped(tmp_path: Path) -> None:
    """Empty and whitespace-only lines anywhere in a file are not results (and do not join onto the next line)."""
    lines = [result(f"r{n}", {"n": n}) for n in range(3)]
    content = "\n" + lines[2] + "\n\n\n" + lines[0] + "\n \t\r\n" + lines[1] + "\n\n"
    joined, counts, index, _ = join(tmp_path, ["r0", "r1", "r2"], content)
    assert joined == [json.loads(line) for line in lines]
    assert (index.unexpected, index.duplicates, counts.succeeded) == (0, 0, 3)

"""Bulk mode of chat and Responses: input order, errors kept or failing, retries that resend only what failed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError, OpenAIFusionError
from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator, OpenAIResponseOperator
from tests.unit.helpers import raises

PREFIX = [{"role": "developer", "content": "Classify the ticket: billing, bug or other."}]


class Server:
    """Answers each chat or response request with its last user text upper-cased; ``fail`` texts get ``status``."""

    def __init__(self, fail: set[str] | None = None, status: int = 500) -> None:
        self.fail = fail or set()
        self.status = status
        self.texts: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        text = body["messages"][-1]["content"] if "messages" in body else body["input"]
        self.texts.append(text)
        if text in self.fail:
            error = {"message": f"cannot do {text}", "type": "server_error", "code": "boom", "param": None}
            return httpx.Response(self.status, json={"error": error})
        if "messages" in body:
            choice = {"index": 0, "message": {"role": "assistant", "content": text.upper()}, "finish_reason": "stop"}
            usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
            answer = {"id": f"c-{text}", "object": "chat.completion", "model": body["model"], "choices": [choice]}
            return httpx.Response(200, json=answer | {"usage": usage, "created": 1})
        output = [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text.upper()}]}]
        usage = {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
        answer = {
            "id": f"r-{text}",
            "object": "response",
            "created_at": 1,
            "model": body["model"],
            "status": "completed",
        }
        return httpx.Response(200, json=answer | {"output": output, "usage": usage})


def chat(make_hook: Any, server: Server, tmp_path: Path, **kwargs: Any) -> OpenAIChatCompletionOperator:
    kwargs.setdefault("items", [f"ticket {n}" for n in range(10)])
    kwargs.setdefault("output_path", str(tmp_path / "out.jsonl"))
    task = OpenAIChatCompletionOperator(task_id="classify", model="gpt-5.6-luna", messages=PREFIX, **kwargs)
    task.hook = make_hook(server)
    return task


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_answers_are_written_in_input_order_and_the_xcom_is_a_small_manifest(make_hook: Any, tmp_path: Path) -> None:
    server = Server()
    task = chat(make_hook, server, tmp_path, items=[f"ticket {n}" for n in range(300)], max_concurrency=4)
    result = task.execute({})
    assert result == {
        "path": str(tmp_path / "out.jsonl"),
        "count": 300,
        "succeeded": 300,
        "failed": 0,
        "not_sent": 0,
        "reused": 0,
        "usage": {
            "gpt-5.6-luna": {
                "calls": 300,
                "usage": {"prompt_tokens": 3000, "completion_tokens": 600, "total_tokens": 3600},
            }
        },
    }
    written = lines(tmp_path / "out.jsonl")
    assert [line["custom_id"] for line in written] == [f"item-{n}" for n in range(300)]
    assert [line["response"]["body"]["choices"][0]["message"]["content"] for line in written] == [
        f"TICKET {n}" for n in range(300)
    ]
    assert all(line["response"]["status_code"] == 200 and line["error"] is None for line in written)
    assert sorted(server.texts) == sorted(f"ticket {n}" for n in range(300))


def test_request_objects_carry_their_custom_id_and_fields(make_hook: Any, tmp_path: Path) -> None:
    server = Server()
    items = [{"custom_id": "t-9", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 5}, "y"]
    task = chat(make_hook, server, tmp_path, items=items)
    task.execute({})
    assert [line["custom_id"] for line in lines(tmp_path / "out.jsonl")] == ["t-9", "item-1"]


def test_a_jsonl_items_file_is_read_line_by_line(make_hook: Any, tmp_path: Path) -> None:
    source = tmp_path / "items.jsonl"
    source.write_text('"a"\n\n{"custom_id": "k", "messages": [{"role": "user", "content": "b"}]}\n')
    task = chat(make_hook, Server(), tmp_path, items=None, items_path=str(source))
    assert task.execute({})["count"] == 2
    assert [line["custom_id"] for line in lines(tmp_path / "out.jsonl")] == ["item-0", "k"]


@pytest.mark.parametrize(
    ("kwargs", "argument", "reason"),
    [
        ({"items": ["a", {"temperature": 9}]}, "items", "items[1] (item-1): temperature"),
        ({"items": ["a", {"custom_id": "item-0", "messages": PREFIX}]}, "items", "custom_id must be unique"),
        ({"items": ["a", 3]}, "items", "items[1] (item-1): item: must be text or a request object"),
        ({"items": []}, "items", "non-empty list"),
        ({"items": ["a"], "items_path": "x.jsonl"}, "items", "exactly one"),
        ({"items": ["a"], "output_path": None}, "output_path", "required"),
        ({"items": ["a"], "on_error": "skip"}, "on_error", "must be one of"),
        ({"items": ["a"], "max_concurrency": 65}, "max_concurrency", "at most 64"),
        ({"items": ["a"], "service_tier": "flex", "flex_fallback": True}, "flex_fallback", "not to bulk mode"),
    ],
)
def test_bad_items_fail_before_any_request_naming_the_item(
    make_hook: Any, tmp_path: Path, kwargs: dict[str, Any], argument: str, reason: str
) -> None:
    server = Server()
    task = chat(make_hook, server, tmp_path, **kwargs)
    with raises(InvalidArgumentError, match=re.escape(reason)) as info:
        task.execute({})
    assert info.value.argument == argument
    assert server.texts == []


def test_on_error_record_keeps_going_and_writes_the_error_lines(make_hook: Any, tmp_path: Path) -> None:
    server = Server(fail={"ticket 3", "ticket 7"}, status=400)
    result = chat(make_hook, server, tmp_path, on_error="record").execute({})
    assert (result["succeeded"], result["failed"]) == (8, 2)
    written = lines(tmp_path / "out.jsonl")
    errors = {line["custom_id"]: line["error"] for line in written if line["error"]}
    assert set(errors) == {"item-3", "item-7"}
    assert (
        errors["item-3"]["message"].startswith("OpenAI API error")
        and "cannot do ticket 3" in errors["item-3"]["message"]
    )
    assert written[3]["response"] == {"status_code": 400, "request_id": None, "body": None}


def test_a_failed_run_writes_its_output_and_the_retry_sends_only_what_failed(make_hook: Any, tmp_path: Path) -> None:
    items = [f"ticket {n}" for n in range(600)]
    first = Server(fail={"ticket 5"})
    with pytest.raises(OpenAIFusionError, match=r"1 of 600 items failed and 59\d were not sent") as info:
        chat(make_hook, first, tmp_path, items=items, max_concurrency=2).execute({})
    assert not isinstance(info.value, InvalidArgumentError)  # retryable: the task's own retries apply
    written = lines(tmp_path / "out.jsonl")
    assert len(written) == 600
    not_sent = [line["custom_id"] for line in written if line["error"] and line["error"]["code"] == "not_sent"]
    # nothing is sent after the failure: tickets 0 to 5, and at most the one the other worker had in flight
    assert first.texts[:6] == [f"ticket {n}" for n in range(6)] and len(first.texts) in (6, 7)
    assert len(not_sent) == 600 - len(first.texts)
    answered = len(first.texts) - 1
    second = Server()
    result = chat(make_hook, second, tmp_path, items=items, max_concurrency=2).execute({})
    assert len(second.texts) == 600 - answered
    assert "ticket 0" not in second.texts and "ticket 5" in second.texts
    assert (result["succeeded"], result["failed"], result["reused"]) == (600, 0, answered)
    assert [line["custom_id"] for line in lines(tmp_path / "out.jsonl")] == [f"item-{n}" for n in range(600)]


def test_a_retry_with_other_requests_sends_everything_again(make_hook: Any, tmp_path: Path) -> None:
    chat(make_hook, Server(fail={"ticket 1"}), tmp_path, on_error="record").execute({})
    server = Server()
    result = chat(make_hook, server, tmp_path, items=[f"ticket {n}" for n in range(10)], temperature=0.5).execute({})
    assert len(server.texts) == 10 and result["reused"] == 0


def test_an_output_not_made_by_a_bulk_run_is_never_reused(make_hook: Any, tmp_path: Path) -> None:
    planted = {"custom_id": "item-0", "response": {"status_code": 200, "body": {"planted": True}}, "error": None}
    (tmp_path / "out.jsonl").write_text(json.dumps(planted) + "\n")
    server = Server()
    chat(make_hook, server, tmp_path).execute({})
    assert len(server.texts) == 10
    assert "planted" not in (tmp_path / "out.jsonl").read_text()


def test_responses_bulk_sends_each_item_as_the_input(make_hook: Any, tmp_path: Path) -> None:
    server = Server()
    task = OpenAIResponseOperator(
        task_id="extract",
        model="gpt-5.6-luna",
        instructions="Extract the product name.",
        items=["alpha", {"custom_id": "b", "input": "beta"}],
        output_path=str(tmp_path / "out.jsonl"),
        max_output_tokens=50,
    )
    task.hook = make_hook(server)
    result = task.execute({})
    assert result["usage"] == {
        "gpt-5.6-luna": {"calls": 2, "usage": {"input_tokens": 14, "output_tokens": 6, "total_tokens": 20}}
    }
    written = lines(tmp_path / "out.jsonl")
    assert [line["custom_id"] for line in written] == ["item-0", "b"]
    assert written[1]["response"]["body"]["output"][0]["content"][0]["text"] == "BETA"
    assert sorted(server.texts) == ["alpha", "beta"]


def test_responses_bulk_refuses_what_a_single_request_only_can_do(make_hook: Any, tmp_path: Path) -> None:
    server = Server()
    task = OpenAIResponseOperator(
        task_id="extract", model="gpt-5.6-luna", items=["a"], output_path=str(tmp_path / "o.jsonl"), background=True
    )
    task.hook = make_hook(server)
    with raises(InvalidArgumentError, match="bulk mode") as info:
        task.execute({})
    assert info.value.argument == "background" and server.texts == []


@pytest.mark.parametrize("planted", [b"[1]\n", b'{"custom_id": 7, "error": null}\n', b"not json\n"])
def test_an_earlier_output_that_is_not_ours_line_by_line_is_not_reused(
    make_hook: Any, tmp_path: Path, planted: bytes
) -> None:
    chat(make_hook, Server(fail={"ticket 1"}), tmp_path, on_error="record").execute({})
    (tmp_path / "out.jsonl").write_bytes(planted)  # the manifest (same requests) is kept; the output is not ours
    server = Server()
    result = chat(make_hook, server, tmp_path).execute({})
    assert len(server.texts) == 10 and result["reused"] == 0 and result["succeeded"] == 10


def test_an_answer_that_is_not_json_is_its_items_error_naming_the_request_id(make_hook: Any, tmp_path: Path) -> None:
    def server(request: httpx.Request) -> httpx.Response:
        text = json.loads(request.content)["messages"][-1]["content"]
        if text == "ticket 1":
            return httpx.Response(200, content=b"<html>busy</html>", headers={"x-request-id": "req_not_json"})
        return Server()(request)

    task = OpenAIChatCompletionOperator(
        task_id="classify",
        model="gpt-5.6-luna",
        messages=PREFIX,
        items=["ticket 0", "ticket 1", "ticket 2"],
        output_path=str(tmp_path / "out.jsonl"),
        on_error="record",
    )
    task.hook = make_hook(server)
    result = task.execute({})
    written = lines(tmp_path / "out.jsonl")
    assert (result["succeeded"], result["failed"]) == (2, 1)
    assert written[1]["error"]["code"] == "APIResponseValidationError"
    assert written[1]["error"]["message"].startswith("the API answered with a body that is not valid JSON")
    assert written[1]["error"]["message"].endswith("(request id: req_not_json)")

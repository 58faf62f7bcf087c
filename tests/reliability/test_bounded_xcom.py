"""
What a task hands to Airflow's database is bounded by what it asked for: an embeddings answer by the vectors the
request can produce (read no further), each vector by the requested or known dimensions; a Responses XCom holds a
long text once, and no XCom passes 32 MiB as Airflow serializes it; a trigger event carries ids, and the task reads
the response again when it resumes.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion._bounds import MAX_EVENT_BYTES, serialized_size
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, OutputTooLargeError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import OpenAIEmbeddingsOperator, OpenAIResponseOperator
from airflow_provider_openai_fusion.triggers import OpenAIResponseTrigger
from tests.reliability.fault_server import FaultServer, Reply, Request, Streamed, json_reply
from tests.unit.fine_tuning_fake import context

MiB = 1 << 20


def _status_mib(field: str) -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1)) / 1024  # type: ignore[union-attr]


def _embeddings(vector_bytes: bytes) -> bytes:
    return (
        b'{"object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 1, "total_tokens": 1}, '
        b'"data": [{"object": "embedding", "index": 0, "embedding": ' + vector_bytes + b"}]}"
    )


def _embed(hook: OpenAIFusionHook, **kwargs: Any) -> Any:
    task = OpenAIEmbeddingsOperator(task_id="embed", model="text-embedding-3-small", input="one text", **kwargs)
    task.hook = hook
    return task.execute(context())


def test_a_huge_vector_is_refused_after_what_one_input_can_take(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """One input answered with 9.4 million floats (45 MB; it used to become a 45 MB XCom): refused at 114 KiB."""
    body = _embeddings(b"[" + b", ".join([b"0.0123"] * 9_400_000) + b"]")
    server.script(Streamed(body))
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    with pytest.raises(APIResponseValidationError, match=r"larger than the ([\d,]+)-byte cap") as caught:
        _embed(hook_at(server.base_url, max_retries=0))
    cap = int(re.search(r"the ([\d,]+)-byte cap", str(caught.value)).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert cap == 1536 * 32 + 512 + 64 * 1024
    assert _status_mib("VmHWM") - before < 24
    assert server.attempts == 1


@pytest.mark.parametrize(
    "asked,answered,match",
    [
        (None, 2000, "has 2,000 dimensions; 1,536 were expected"),
        (256, 1536, "has 1,536 dimensions; 256 were expected"),
    ],
    ids=["known model", "dimensions asked for"],
)
def test_a_vector_of_other_dimensions_is_refused(
    asked: int | None, answered: int, match: str, server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    server.script(Reply(200, {"Content-Type": "application/json"}, _embeddings(json.dumps([0.5] * answered).encode())))
    with pytest.raises(APIResponseValidationError, match=match):
        _embed(hook_at(server.base_url, max_retries=0), dimensions=asked)


def _response(text: str, status: str = "completed") -> dict[str, Any]:
    message = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
    return {
        "id": "resp_1",
        "object": "response",
        "status": status,
        "model": "gpt-4o-mini",
        "output": [message] if status == "completed" else [],
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
    }


def _respond(hook: OpenAIFusionHook, **kwargs: Any) -> OpenAIResponseOperator:
    task = OpenAIResponseOperator(task_id="respond", model="gpt-4o-mini", input="write", **kwargs)
    task.hook = hook
    return task


def test_a_long_text_is_held_once_in_the_responses_xcom(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """20 MB of text: the XCom holds it once (``output_text`` left out past 64 KiB), not twice (40 MB)."""
    server.script(json_reply(200, _response("z" * (20 * MiB))))
    result = _respond(hook_at(server.base_url)).execute(context())
    assert result["output_text"] is None and result["output"][0]["content"][0]["text"] == "z" * (20 * MiB)
    assert 20 * MiB < serialized_size(result) < 21 * MiB
    server.script(json_reply(200, _response("short")))
    assert _respond(hook_at(server.base_url)).execute(context())["output_text"] == "short"


def test_an_xcom_past_the_bound_is_refused_with_the_bound_named(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """A 40 MB answer: measured as Airflow would store it, refused, naming the 32 MiB bound; no retry would help."""
    server.script(json_reply(200, _response("z" * (40 * MiB))))
    with pytest.raises(OutputTooLargeError) as caught:
        _respond(hook_at(server.base_url)).execute(context())
    message = str(caught.value)
    assert "OpenAIResponseOperator 'respond' would return 41,943," in message
    assert "more than the 33,554,432-byte bound of an XCom" in message
    assert "set output_path to write the result to a file" in message


def test_a_deferred_response_event_carries_ids_and_the_task_reads_the_response_again(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook]
) -> None:
    """A 5 MB background answer: the trigger's event is its status and id (it used to be the whole response)."""
    answer = _response("y" * (5 * MiB))

    def reply(request: Request) -> Any:
        assert request.target == "/v1/responses/resp_1", request.target
        return json_reply(200, answer)

    server.script(reply)
    hook_at(server.base_url)  # the connection the trigger reads by conn_id
    trigger = OpenAIResponseTrigger(job_id="resp_1", conn_id="openai_fusion_reliability", poll_interval=0.01)

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    event = asyncio.run(first_event())
    assert event == {"status": "completed", "job_id": "resp_1"}
    assert serialized_size(event) < MAX_EVENT_BYTES
    polls = server.attempts
    task = _respond(hook_at(server.base_url), background=True, deferrable=True)
    result = task.execute_complete(context(), event)
    assert server.attempts == polls + 1 and server.requests[-1].method == "GET"
    assert result["output"][0]["content"][0]["text"] == "y" * (5 * MiB) and result["output_text"] is None

"""
Live shutdown dates: a loopback server's ``GET /models`` publishes past, near and null ``shutdown_date``s, which
refuse, warn and stay silent; it is read once per process, connection and day; a ``/models`` that fails or hangs
never fails the task nor delays it past the read's bound.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from airflow_provider_openai_fusion import live_models, model_lifecycle
from airflow_provider_openai_fusion.exceptions import ModelRetiredError
from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator
from tests.reliability.fault_server import FaultServer, Reply, Request, Stall, json_reply

TODAY = date(2026, 12, 7)
MODELS = [
    {"id": "past-model", "object": "model", "created": 1, "owned_by": "me", "shutdown_date": "2026-12-01"},
    {"id": "near-model", "object": "model", "created": 1, "owned_by": "me", "shutdown_date": "2026-12-20"},
    {"id": "null-model", "object": "model", "created": 1, "owned_by": "me", "shutdown_date": None},
    {"id": "far-model", "object": "model", "created": 1, "owned_by": "me", "shutdown_date": "2027-06-01"},
]
CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
}


@pytest.fixture(autouse=True)
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[date]]:
    """Live reads on, an empty cache, and a settable today (a list of one day)."""
    day = [TODAY]
    monkeypatch.setenv("AIRFLOW__OPENAI_FUSION__LIVE_MODEL_DATES", "True")
    monkeypatch.setattr(model_lifecycle, "today_utc", lambda: day[0])
    live_models.forget()
    yield day
    live_models.forget()


def serve(models: Callable[[], Reply | Stall]) -> Callable[[Request], Any]:
    def answer(request: Request) -> Any:
        return models() if request.target.endswith("/models") else json_reply(200, CHAT)

    return answer


def chat(hook_at: Callable[..., Any], server: FaultServer, model: str) -> Any:
    operator = OpenAIChatCompletionOperator(task_id="t", model=model, messages=[{"role": "user", "content": "Hi"}])
    operator.hook = hook_at(server.base_url, max_retries=0)
    return operator.execute({})


def reads(server: FaultServer) -> int:
    return sum(request.target.endswith("/models") for request in server.requests)


def chats(server: FaultServer) -> int:
    return sum(request.target.endswith("/chat/completions") for request in server.requests)


def test_past_near_and_null_dates_refuse_warn_and_stay_silent_with_one_read_a_day(
    server: FaultServer, hook_at: Callable[..., Any], live: list[date], capsys: pytest.CaptureFixture[str]
) -> None:
    server.script(serve(lambda: json_reply(200, {"object": "list", "data": MODELS})))
    with pytest.raises(ModelRetiredError) as info:
        chat(hook_at, server, "past-model")
    assert str(info.value) == (
        "Invalid argument 'model': past-model was shut down at this server on 2026-12-01 (per the server's "
        "GET /models); no replacement is known: choose a current model"
    )
    assert chats(server) == 0
    chat(hook_at, server, "near-model")
    chat(hook_at, server, "null-model")
    chat(hook_at, server, "far-model")
    logged = capsys.readouterr().out
    assert "Model near-model (at this server, per the server's GET /models) shuts down on 2026-12-20 (in 13 days)" in (
        logged
    )
    assert "null-model" not in logged and "far-model" not in logged
    assert (reads(server), chats(server)) == (1, 3)

    live[0] = TODAY + timedelta(days=1)
    chat(hook_at, server, "null-model")
    assert (reads(server), chats(server)) == (2, 4)


def test_the_server_date_wins_at_any_server_and_names_no_openai_replacement_there(
    server: FaultServer, hook_at: Callable[..., Any]
) -> None:
    early = [{"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "o", "shutdown_date": "2026-12-05"}]
    server.script(serve(lambda: json_reply(200, {"object": "list", "data": early})))
    with pytest.raises(ModelRetiredError) as info:
        chat(hook_at, server, "gpt-4o-mini")
    assert (info.value.shutdown, info.value.replacement) == ("2026-12-05", None)
    assert chats(server) == 0


def test_a_failing_models_read_is_logged_once_and_the_tasks_go_on(
    server: FaultServer, hook_at: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    server.script(serve(lambda: json_reply(500, {"error": {"message": "down", "type": "server_error"}})))
    chat(hook_at, server, "near-model")
    chat(hook_at, server, "past-model")
    logged = capsys.readouterr().out
    assert logged.count("Could not read shutdown dates from GET /models") == 1
    assert (reads(server), chats(server)) == (1, 2)


def test_a_hanging_models_read_delays_the_task_by_the_bound_at_most(
    server: FaultServer, hook_at: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    server.script(serve(lambda: Stall(head=False, seconds=30.0)))
    started = time.monotonic()
    answer = chat(hook_at, server, "near-model")
    first = time.monotonic() - started
    started = time.monotonic()
    chat(hook_at, server, "near-model")
    second = time.monotonic() - started
    assert answer["choices"][0]["message"]["content"] == "Hi"
    assert first < live_models.READ_TIMEOUT + 3.0, first  # the bound plus generous slack for a loaded machine
    assert second < live_models.READ_TIMEOUT, second  # cached: no second wait
    assert (reads(server), chats(server)) == (1, 2)
    assert "Could not read shutdown dates" in capsys.readouterr().out


def test_a_server_that_publishes_no_field_leaves_the_table_in_charge(
    server: FaultServer, hook_at: Callable[..., Any]
) -> None:
    bare = [{"id": "past-model", "object": "model", "created": 1, "owned_by": "me"}]
    server.script(serve(lambda: json_reply(200, {"object": "list", "data": bare})))
    assert chat(hook_at, server, "past-model")["id"] == "chatcmpl-1"
    assert live_models.dates_from(bare) is None
    assert dict(live_models.dates_from(json.loads(json.dumps(MODELS))) or {}) == {
        "past-model": date(2026, 12, 1),
        "near-model": date(2026, 12, 20),
        "null-model": None,
        "far-model": date(2027, 6, 1),
    }

"""
Live dates at OpenAI's base URL (``httpx.MockTransport``): the server's date wins over the table, the table still
names the replacement and decides where the server publishes null; a fine-tuned model follows its base.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion import live_models, model_lifecycle
from airflow_provider_openai_fusion.exceptions import ModelRetiredError
from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator
from tests.unit.helpers import raises

OPENAI = "https://api.openai.com/v1"
PUBLISHED = {"gpt-4o-mini": "2026-12-05", "gpt-5-mini": None, "gpt-4.1-mini-2025-04-14": "2026-12-30"}
CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
}


@pytest.fixture(autouse=True)
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AIRFLOW__OPENAI_FUSION__LIVE_MODEL_DATES", "True")
    monkeypatch.setattr(model_lifecycle, "today_utc", lambda: date(2026, 12, 7))
    live_models.forget()
    yield
    live_models.forget()


class Server:
    """OpenAI as a MockTransport handler: ``GET /models`` with the published dates, then chat answers."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path.endswith("/models"):
            data = [
                {"id": model, "object": "model", "created": 1, "owned_by": "openai", "shutdown_date": day}
                for model, day in PUBLISHED.items()
            ]
            return httpx.Response(200, json={"object": "list", "data": data})
        return httpx.Response(200, json=CHAT)


def chat(make_hook: Any, server: Server, model: str) -> Any:
    operator = OpenAIChatCompletionOperator(task_id="t", model=model, messages=[{"role": "user", "content": "Hi"}])
    operator.hook = make_hook(server, base_url=OPENAI)
    return operator.execute({})


def test_at_openai_the_server_date_wins_and_the_table_names_the_replacement(make_hook: Any) -> None:
    server = Server()
    with raises(ModelRetiredError) as info:
        chat(make_hook, server, "gpt-4o-mini")
    assert (info.value.shutdown, info.value.replacement) == ("2026-12-05", "gpt-6-luna")
    assert "(per the server's GET /models)" in str(info.value)
    assert server.paths == ["/v1/models"]


def test_a_null_server_date_leaves_the_table_in_charge(make_hook: Any, capsys: pytest.CaptureFixture[str]) -> None:
    server = Server()
    chat(make_hook, server, "gpt-5-mini")
    assert (
        "Model gpt-5-mini (at OpenAI, per the provider's retirement table, reviewed on 2026-12-07) shuts down on "
        "2026-12-11 (in 4 days); the recommended replacement is gpt-6.1-terra"
    ) in capsys.readouterr().out
    assert server.paths == ["/v1/models", "/v1/chat/completions"]


def test_a_fine_tuned_model_follows_its_base_model_s_server_date(
    make_hook: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    server = Server()
    chat(make_hook, server, "ft:gpt-4.1-mini-2025-04-14:acme::x1")
    logged = capsys.readouterr().out
    assert (
        "Model ft:gpt-4.1-mini-2025-04-14:acme::x1 (fine-tuned from gpt-4.1-mini-2025-04-14, which it stops with; "
        "at OpenAI, per the server's GET /models) shuts down on 2026-12-30 (in 23 days); the recommended "
        "replacement is gpt-6-luna"
    ) in logged
    assert server.paths == ["/v1/models", "/v1/chat/completions"]


def test_the_switch_is_a_documented_config_option() -> None:
    from airflow_provider_openai_fusion.get_provider_info import get_provider_info

    option = get_provider_info()["config"]["openai_fusion"]["options"]["live_model_dates"]
    assert (option["type"], option["default"]) == ("boolean", "True")

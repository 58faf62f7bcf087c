"""Every JSON answer the hook returns is checked against the fields the provider relies on."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_openai_fusion.exceptions import APIResponseValidationError
from tests.unit.helpers import Script, ok, raises

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_chat_answer_without_choices_is_refused_naming_the_field(make_hook: Any, mode: str) -> None:
    hook = make_hook(Script(ok({"id": "chatcmpl-1", "object": "chat.completion"})))
    with raises(APIResponseValidationError, match=r"POST /chat/completions .*choices: Field required"):
        if mode == "sync":
            hook.create_chat_completion(CHAT)
        else:
            await hook.acreate_chat_completion(CHAT)


def test_a_valid_answer_comes_back_whole_with_fields_the_models_do_not_name(make_hook: Any) -> None:
    answer = {"choices": [{"index": 0, "message": {"content": "hi"}}], "service_tier": "default", "new": [1]}
    assert make_hook(Script(ok(answer))).create_chat_completion(CHAT) == answer


def test_an_unknown_job_status_is_refused(make_hook: Any) -> None:
    hook = make_hook(Script(ok({"id": "ftjob-1", "status": "exploded"})))
    with raises(APIResponseValidationError, match=r"status: Input should be"):
        hook.retrieve_fine_tuning_job("ftjob-1")


def test_each_item_of_a_list_page_is_checked(make_hook: Any) -> None:
    page = {"object": "list", "data": [{"id": "file-1"}, {"filename": "no-id.jsonl"}], "has_more": False}
    with raises(APIResponseValidationError, match=r"GET /files .*id: Field required"):
        make_hook(Script(ok(page))).list_files()


def test_a_list_answer_without_data_is_refused(make_hook: Any) -> None:
    with raises(APIResponseValidationError, match=r"GET /models .*data: Field required"):
        make_hook(Script(ok({"object": "list"}))).list_models()

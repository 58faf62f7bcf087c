"""Every JSON answer the hook returns is checked against the fields the provider relies on."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_openai_fusion.api import chat, files, fine_tuning, models
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError
from tests.unit.helpers import Script, ok, raises

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_chat_answer_without_choices_is_refused_naming_the_field(make_hook: Any, mode: str) -> None:
    hook = make_hook(Script(ok({"id": "chatcmpl-1", "object": "chat.completion"})))
    with raises(APIResponseValidationError, match=r"POST /chat/completions .*choices: Field required"):
        if mode == "sync":
            hook.request(chat.create_chat_completion(CHAT))
        else:
            await hook.arequest(chat.create_chat_completion(CHAT))


def test_a_valid_answer_comes_back_whole_with_fields_the_models_do_not_name(make_hook: Any) -> None:
    answer = {"choices": [{"index": 0, "message": {"content": "hi"}}], "service_tier": "default", "new": [1]}
    assert make_hook(Script(ok(answer))).request(chat.create_chat_completion(CHAT)) == answer


def test_a_status_the_api_added_later_passes_but_a_missing_one_is_refused(make_hook: Any) -> None:
    page = {"object": "list", "data": [{"id": "ftjob-1", "status": "paused"}], "has_more": False}
    assert make_hook(Script(ok(page))).paginate(fine_tuning.list_jobs())[0]["status"] == "paused"
    with raises(APIResponseValidationError, match=r"GET /fine_tuning/jobs/ftjob-1 .*status: Field required"):
        make_hook(Script(ok({"id": "ftjob-1"}))).request(fine_tuning.retrieve_job("ftjob-1"))


def test_each_item_of_a_list_page_is_checked(make_hook: Any) -> None:
    page = {"object": "list", "data": [{"id": "file-1"}, {"filename": "no-id.jsonl"}], "has_more": False}
    with raises(APIResponseValidationError, match=r"GET /files .*id: Field required"):
        make_hook(Script(ok(page))).paginate(files.list_files())


def test_a_list_answer_without_data_is_refused(make_hook: Any) -> None:
    with raises(APIResponseValidationError, match=r"GET /models .*data: Field required"):
        make_hook(Script(ok({"object": "list"}))).paginate(models.list_models())

"""
Edges of the model-currency checks: cases added for mutants of ``model_lifecycle.py`` that survived the checks'
own tests (scripts/mutation.sh lifecycle). Every date is fixed (``REVIEWED_ON`` or a literal), never today's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import pytest

from airflow_provider_openai_fusion.exceptions import ModelRetiredError
from airflow_provider_openai_fusion.model_lifecycle import (
    REVIEWED_ON,
    Verdict,
    base_model_of,
    check_endpoint,
    check_model,
    shutdown_date_of,
    shutdown_warning,
    verdict_of,
)

LOCAL = "http://localhost:8000/v1"
SPEECH_INSTEAD = (
    "no model replaces them on /audio/speech: generate speech with the Realtime API (gpt-realtime-2.1-mini) or "
    "point the connection at a compatible speech server"
)


@pytest.mark.parametrize(
    ("model", "base"),
    [
        ("ft:gpt-4o-mini-2024-07-18:acme::x1", "gpt-4o-mini-2024-07-18"),
        ("ft:gpt-4o-mini", "gpt-4o-mini"),
        ("acme:gpt-4o-mini", "acme:gpt-4o-mini"),
        ("gpt-4o-mini", "gpt-4o-mini"),
    ],
)
def test_the_base_model_is_read_from_ft_ids_only(model: str, base: str) -> None:
    assert base_model_of(model) == base


def test_another_server_s_date_counts_there_without_the_table_s_replacement() -> None:
    published = {"gpt-4o-mini": date(2026, 12, 20)}
    verdict = verdict_of("gpt-4o-mini", base_url=LOCAL, today=REVIEWED_ON, live=published)
    assert verdict == Verdict("gpt-4o-mini", date(2026, 12, 20), None, "server")
    assert check_model("gpt-4o-mini", base_url=LOCAL, today=REVIEWED_ON, live=published) == (
        "Model gpt-4o-mini (at this server, per the server's GET /models) shuts down on 2026-12-20 (in 13 days)"
    )


def test_a_model_another_server_shut_down_is_refused_naming_that_server() -> None:
    with pytest.raises(ModelRetiredError) as info:
        check_model("local-llm", base_url=LOCAL, today=REVIEWED_ON, live={"local-llm": date(2026, 12, 1)})
    assert str(info.value) == (
        "Invalid argument 'model': local-llm was shut down at this server on 2026-12-01 (per the server's "
        "GET /models); no replacement is known: choose a current model"
    )


def test_a_replacement_that_shut_down_itself_is_followed_to_the_current_one() -> None:
    verdict = verdict_of("chatgpt-4o-latest", base_url=None, today=REVIEWED_ON)
    assert verdict == Verdict("chatgpt-4o-latest", date(2026, 2, 17), "gpt-5.5", "table")
    with pytest.raises(ModelRetiredError) as info:
        check_model("chatgpt-4o-latest", base_url=None, today=REVIEWED_ON)
    assert info.value.replacement == "gpt-5.5"
    past = shutdown_warning({"id": "chatgpt-4o-latest", "shutdown_date": "2026-02-17"}, today=REVIEWED_ON)
    assert past == "Model chatgpt-4o-latest was shut down on 2026-02-17; the recommended replacement is gpt-5.5"


@pytest.mark.parametrize(
    ("today", "left"), [(date(2027, 1, 5), "1 day left"), (date(2027, 1, 4), "2 days left")], ids=["1", "2"]
)
def test_the_speech_endpoint_s_days_left_are_counted_in_words(today: date, left: str) -> None:
    assert check_endpoint("speech", base_url=None, today=today) == (
        f"OpenAI shuts down /audio/speech (tts-1, tts-1-hd, gpt-4o-mini-tts) on 2027-01-06 ({left}); {SPEECH_INSTEAD}"
    )


def test_another_server_keeps_its_speech_endpoint() -> None:
    assert check_endpoint("speech", base_url=LOCAL, today=date(2027, 1, 5)) is None


def test_a_model_object_without_an_id_or_a_known_replacement() -> None:
    assert shutdown_warning({"shutdown_date": "2026-12-01"}, today=REVIEWED_ON) == "Model ? was shut down on 2026-12-01"


def test_a_model_object_shutting_down_today_is_shut_down() -> None:
    warning = shutdown_warning({"id": "local-llm", "shutdown_date": "2026-12-07"}, today=REVIEWED_ON)
    assert warning == "Model local-llm was shut down on 2026-12-07"


def test_a_model_object_thirty_days_ahead_is_warned_about() -> None:
    warning = shutdown_warning({"id": "local-llm", "shutdown_date": "2027-01-06"}, today=REVIEWED_ON)
    assert warning == "Model local-llm shuts down on 2027-01-06 (in 30 days)"
    assert shutdown_warning({"id": "local-llm", "shutdown_date": "2027-01-07"}, today=REVIEWED_ON) is None


def test_a_date_time_shutdown_is_read_by_its_date() -> None:
    assert shutdown_date_of({"shutdown_date": "2026-12-05T00:00:00Z"}) == date(2026, 12, 5)


@pytest.fixture
def eight_hours_west(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "PST+08")  # POSIX form: needs no time-zone database
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("eight_hours_west")
def test_a_unix_shutdown_is_read_in_utc_whatever_the_machine_s_time_zone() -> None:
    assert shutdown_date_of({"shutdown_date": 1_796_439_600}) == date(
        2026, 12, 5
    )  # 03:00 UTC, 19:00 the day before 8 h west

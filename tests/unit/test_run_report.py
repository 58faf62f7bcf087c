"""The main job's report: short results and the token total over every ``usage`` shape the API returns."""

from __future__ import annotations

from pathlib import Path

from dev.run_report import Tokens, duration_text, short_result, token_totals, tokens_text


def test_token_totals_sum_every_usage_shape() -> None:
    values = [
        {"object": "chat.completion", "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}},
        {"paths": ["0.png"], "usage": {"input_tokens": 9, "output_tokens": 272, "total_tokens": 281}},
        {"object": "list", "data": [], "usage": {"prompt_tokens": 7, "total_tokens": 7}},
        {"text": "hi", "usage": {"type": "duration", "seconds": 3}},
        [{"usage": {"input_tokens": 1, "output_tokens": 2}}, {"usage": {"input_tokens": 3, "output_tokens": 4}}],
        {"usage": None},
        "text answer",
        None,
    ]
    assert token_totals(values) == Tokens(input=30, output=283, total=313, tasks=4)
    assert tokens_text(token_totals(values)) == (
        "Tokens: 313 total (30 input, 283 output) over 4 task(s) that reported usage"
    )
    assert tokens_text(token_totals([None, "x"])) == "Tokens: none reported"


def test_short_result_says_what_came_back() -> None:
    chat = {"object": "chat.completion", "choices": [{"message": {"content": "Airflow\n schedules."}}]}
    assert short_result(chat) == "'Airflow schedules.'"
    assert short_result({"choices": [{"text": " a tagline"}]}) == "'a tagline'"
    assert short_result({"paths": ["/o/0.png", "/o/1.png"]}) == "2 image(s): /o/0.png, /o/1.png"
    assert short_result({"status_code": 404, "body": {}}) == "HTTP 404"
    assert short_result({"object": "file", "id": "file-1", "deleted": True}) == "file file-1 deleted=True"
    assert short_result([1, 2, 3]) == "3 item(s)"
    assert short_result(None) == "-"
    assert short_result("x" * 200).endswith("...'") and len(short_result("x" * 200)) == 70


def test_duration_text() -> None:
    assert (duration_text(None), duration_text(0.44), duration_text(125.4)) == ("-", "0.4s", "2m05s")


def test_failure_reason_is_the_task_s_last_exception_line(tmp_path: Path) -> None:
    from dev.main_job import failure_reason

    log = tmp_path / "airflow.log"
    log.write_text(
        "[DAG TEST] starting task_id=chat map_index=-1\n"
        "Traceback (most recent call last):\n"
        "airflow_provider_openai_fusion.exceptions.ModelRetiredError: Invalid argument 'model': gpt-4 was shut down\n"
        "[DAG TEST] starting task_id=embed map_index=2\n"
        "ValueError: first\n"
        "  File x\n"
        "pkg.mod.NotFoundError: OpenAI API error: No such model (status 404)\n"
    )
    assert failure_reason(log, "chat", -1) == "ModelRetiredError: Invalid argument 'model': gpt-4 was shut down"
    assert failure_reason(log, "embed", 2) == "NotFoundError: OpenAI API error: No such model (status 404)"
    assert failure_reason(log, "other", -1) == "(see the full log)"

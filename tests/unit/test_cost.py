"""Prices, the usage ledger and budgets: the arithmetic per tier and kind, the XCom record, refusals before sending."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from airflow_provider_openai_fusion import pricing
from airflow_provider_openai_fusion._ledger import USAGE_KEY, read_usage, task_usage
from airflow_provider_openai_fusion.exceptions import BudgetExceededError, ConnectionConfigError, InvalidArgumentError
from airflow_provider_openai_fusion.operators import (
    OpenAIChatCompletionOperator,
    OpenAICompletionOperator,
    OpenAIEmbeddingsOperator,
    OpenAIModerationOperator,
    OpenAIResponseOperator,
)
from airflow_provider_openai_fusion.pricing import Price, cost_usd, parse_prices, price_of
from tests.unit.helpers import Script, ok, raises

USER = [{"role": "user", "content": "Hello"}]
LUNA = pricing.PRICES["gpt-5.6-luna"]


def chat_answer(model: str = "gpt-5.6-luna", tier: str = "default", **usage: Any) -> dict[str, Any]:
    counts = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500, **usage}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "service_tier": tier,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "SECRET ANSWER"}}],
        "usage": counts,
    }


class FakeTI:
    """The parts of a task instance the ledger uses: its try, XCom push, and XCom pull of the run's records."""

    def __init__(self, earlier: dict[str, list[Any]] | None = None, try_number: int = 1) -> None:
        self.try_number = try_number
        self.pushed: list[tuple[str, Any]] = []
        self.earlier = earlier or {}
        self.pulls: list[tuple[Any, str]] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed.append((key, json.loads(json.dumps(value))))

    def xcom_pull(self, task_ids: Any, key: str) -> list[Any]:
        self.pulls.append((task_ids, key))
        return [value for task_id in task_ids for value in self.earlier.get(task_id, [None])]


class FakeDag:
    def __init__(self, *task_ids: str) -> None:
        self.task_ids = list(task_ids)


@contextmanager
def task_context(ti: FakeTI, dag: FakeDag | None = None) -> Iterator[dict[str, Any]]:
    from airflow.sdk.execution_time.context import set_current_context

    context = {"ti": ti, "dag": dag or FakeDag("t")}
    with set_current_context(context):  # type: ignore[arg-type]
        yield context


# Prices: arithmetic per tier and kind.


def test_tokens_at_standard_rate_with_cached_input_at_the_cached_rate() -> None:
    cost = cost_usd(LUNA, input_tokens=100_000, cached_tokens=40_000, output_tokens=10_000)
    assert cost == pytest.approx(0.06 * 0.20 + 0.04 * 0.02 + 0.01 * 1.20)


@pytest.mark.parametrize(("tier", "factor"), [("default", 1.0), ("flex", 0.5), ("batch", 0.5), ("priority", 2.0)])
def test_each_tier_multiplies_the_standard_rate(tier: str, factor: float) -> None:
    standard = cost_usd(LUNA, input_tokens=2_000, output_tokens=1_000)
    assert cost_usd(LUNA, input_tokens=2_000, output_tokens=1_000, tier=tier) == pytest.approx(standard * factor)


def test_priority_uses_the_rows_own_multiplier() -> None:
    assert cost_usd(pricing.PRICES["gpt-5.5"], input_tokens=100_000, tier="priority") == pytest.approx(1.25)


def test_long_context_doubles_input_and_adds_half_to_output() -> None:
    cost = cost_usd(LUNA, input_tokens=300_000, output_tokens=10_000)
    assert cost == pytest.approx(2 * 0.3 * 0.20 + 1.5 * 0.01 * 1.20)


def test_images_audio_minutes_and_training_tokens() -> None:
    assert cost_usd(Price(per_image=0.04), images=3) == pytest.approx(0.12)
    assert cost_usd(pricing.PRICES["gpt-transcribe"], audio_minutes=10) == pytest.approx(0.045)
    assert cost_usd(Price(per_training_token=5.0), trained_tokens=200_000) == pytest.approx(1.0)
    assert cost_usd(pricing.PRICES["text-embedding-3-small"], input_tokens=1_000_000) == pytest.approx(0.02)


def test_unknown_model_or_rate_costs_none_never_zero() -> None:
    assert price_of("no-such-model") is None
    assert cost_usd(None, input_tokens=10) is None
    assert cost_usd(Price(input=1.0), input_tokens=10, output_tokens=5) is None
    assert cost_usd(pricing.PRICES["omni-moderation-latest"]) == 0.0


def test_snapshots_and_fine_tuned_models_take_their_base_row() -> None:
    assert price_of("gpt-5.6-luna-2026-07-09") is LUNA
    assert price_of("ft:gpt-5.6-luna:acme::abc123") is LUNA


def test_connection_prices_win_and_star_prices_every_other_model() -> None:
    overrides = parse_prices('{"gpt-5.6-luna": {"input": 0.1}, "*": {"input": 0, "output": 0}}')
    luna = price_of("gpt-5.6-luna", overrides)
    assert (luna.input, luna.output, luna.cached_input) == (0.1, LUNA.output, LUNA.cached_input)
    assert cost_usd(price_of("llama-local", overrides), input_tokens=5, output_tokens=5) == 0.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"m": {"inptu": 1}}', "m.inptu is not a price field"),
        ('{"m": {"input": -1}}', "m.input must be a number >= 0"),
        ('{"m": 3}', "m must map to an object"),
        ("[1]", "must be a JSON object"),
        ("{nope", "is not JSON"),
    ],
)
def test_bad_prices_extra_is_refused_naming_the_field(make_hook, value: str, message: str) -> None:
    hook = make_hook(Script(ok()), prices=value)
    with raises(ConnectionConfigError, match=f"field 'prices': {message}"):
        hook.settings  # noqa: B018


# The ledger: one record per try, pushed as an XCom.


def test_read_usage_of_each_shape() -> None:
    responses = {"usage": {"input_tokens": 9, "output_tokens": 4, "input_tokens_details": {"cached_tokens": 3}}}
    assert read_usage(responses).cached_tokens == 3
    assert read_usage({"usage": {"type": "duration", "seconds": 90}}).audio_minutes == 1.5
    assert read_usage({"paths": ["a.png", "b.png"], "created": 1, "usage": None}).images == 2
    assert read_usage({"trained_tokens": 700, "status": "succeeded"}).total_tokens == 700
    assert read_usage({"usage": None}) is None


def test_chat_pushes_its_usage_record_and_logs_the_cost(make_hook, capsys) -> None:
    operator = OpenAIChatCompletionOperator(task_id="t", model="gpt-5.6-luna", messages=USER)
    operator.hook = make_hook(Script(ok(chat_answer(prompt_tokens_details={"cached_tokens": 200}))))
    ti = FakeTI(try_number=3)
    with task_context(ti) as context:
        result = operator.execute(context)
        assert task_usage()[0]["calls"] == 1
    assert result["choices"][0]["message"]["content"] == "SECRET ANSWER"
    expected_cost = round((800 * 0.20 + 200 * 0.02 + 500 * 1.20) / 1_000_000, 8)
    assert ti.pushed == [
        (
            USAGE_KEY,
            {
                "model": "gpt-5.6-luna",
                "calls": 1,
                "input_tokens": 1000,
                "cached_tokens": 200,
                "output_tokens": 500,
                "reasoning_tokens": 0,
                "total_tokens": 1500,
                "cost_usd": expected_cost,
                "service_tier": "default",
                "prices_reviewed_on": pricing.PRICES_REVIEWED_ON.isoformat(),
                "try_number": 3,
            },
        )
    ]
    assert "SECRET" not in json.dumps(ti.pushed) and "Hello" not in json.dumps(ti.pushed)
    line = next(line for line in capsys.readouterr().out.splitlines() if "Usage of gpt-5.6-luna" in line)
    assert f"cached 200 tokens, tier default, cost ${expected_cost:.6f} [" in line


def test_unknown_model_records_null_cost_and_warns_once_per_task(make_hook, capsys) -> None:
    operator = OpenAIEmbeddingsOperator(task_id="t", model="my-embedder", input=["a", "b"])
    answer = {
        "object": "list",
        "model": "my-embedder",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    operator.hook = make_hook(Script(ok(answer)))
    ti = FakeTI()
    with task_context(ti) as context:
        operator.log_usage(answer, "my-embedder")
        operator.log_usage(answer, "my-embedder")
        del context
    out = capsys.readouterr().out
    assert out.count("No price is known for model 'my-embedder'") == 1
    assert out.count("cost unknown (no price for this model)") == 2
    record = ti.pushed[-1][1]
    assert (record["cost_usd"], record["calls"], record["input_tokens"]) == (None, 2, 4)


def test_several_models_push_a_list(make_hook) -> None:
    operator = OpenAIChatCompletionOperator(task_id="t", model="gpt-5.6-luna", messages=USER)
    operator.hook = make_hook(Script(ok()))
    ti = FakeTI()
    with task_context(ti):
        operator.log_usage(chat_answer("gpt-5.6-luna"))
        operator.log_usage(chat_answer("gpt-6-luna", tier="flex"))
    value = ti.pushed[-1][1]
    assert [(r["model"], r["service_tier"]) for r in value] == [("gpt-5.6-luna", "default"), ("gpt-6-luna", "flex")]
    assert value[1]["cost_usd"] == pytest.approx(0.5 * (1000 * 0.10 + 500 * 0.50) / 1_000_000)


def test_moderation_records_a_free_call(make_hook) -> None:
    operator = OpenAIModerationOperator(task_id="t", input="hi")
    operator.hook = make_hook(Script(ok({"id": "modr-1", "model": "omni-moderation-latest", "results": []})))
    ti = FakeTI()
    with task_context(ti) as context:
        operator.execute(context)
    assert ti.pushed[-1][1]["cost_usd"] == 0.0 and ti.pushed[-1][1]["calls"] == 1


def test_the_return_value_is_unchanged_without_a_task_context(make_hook) -> None:
    operator = OpenAIChatCompletionOperator(task_id="t", model="gpt-5.6-luna", messages=USER)
    operator.hook = make_hook(Script(ok(chat_answer())))
    assert operator.execute({}) == chat_answer()


# Budgets: refused before sending.


def test_max_cost_usd_refuses_before_any_request_and_says_how_to_lower_it(make_hook) -> None:
    script = Script(ok(chat_answer()))
    operator = OpenAIChatCompletionOperator(task_id="t", model="gpt-5.6-sol", messages=USER, max_cost_usd=0.5)
    operator.hook = make_hook(script)
    with raises(BudgetExceededError) as info:
        operator.execute({})
    assert script.attempts == 0
    message = str(info.value)
    assert "max_cost_usd" in message and "$0.500000" in message
    assert f"${info.value.estimate_usd:.6f}" in message and info.value.estimate_usd > 0.5
    assert "128,000 output tokens" in message and "advanced.max_completion_tokens" in message


def test_a_capped_call_within_budget_is_sent(make_hook) -> None:
    script = Script(ok(chat_answer("gpt-5.6-sol")))
    operator = OpenAIChatCompletionOperator(
        task_id="t", model="gpt-5.6-sol", messages=USER, max_cost_usd=0.01, advanced={"max_completion_tokens": 100}
    )
    operator.hook = make_hook(script)
    operator.execute({})
    assert script.attempts == 1


def test_completion_default_cap_of_16_tokens_is_used(make_hook) -> None:
    script = Script(ok({"id": "c", "model": "gpt-5.6-luna", "choices": [{"text": "x"}]}))
    operator = OpenAICompletionOperator(task_id="t", model="gpt-5.6-luna", prompt="x" * 30, max_cost_usd=0.0000001)
    operator.hook = make_hook(script)
    with raises(BudgetExceededError, match="16 output tokens"):
        operator.execute({})
    assert script.attempts == 0


def test_budget_with_no_known_price_is_an_argument_error(make_hook) -> None:
    script = Script(ok(chat_answer()))
    operator = OpenAIChatCompletionOperator(task_id="t", model="local-llama", messages=USER, max_cost_usd=1)
    operator.hook = make_hook(script)
    with raises(InvalidArgumentError, match="'max_cost_usd'.*no price is known for model 'local-llama'.*prices"):
        operator.execute({})
    assert script.attempts == 0


@pytest.mark.parametrize("value", [-1, "lots", True])
def test_bad_budget_values_are_refused(make_hook, value: Any) -> None:
    operator = OpenAIChatCompletionOperator(task_id="t", model="gpt-5.6-luna", messages=USER, max_run_cost_usd=value)
    operator.hook = make_hook(Script(ok(chat_answer())))
    with raises(InvalidArgumentError, match="max_run_cost_usd"):
        operator.execute({})


def test_max_run_cost_usd_counts_the_runs_recorded_costs(make_hook) -> None:
    earlier = {
        "first": [{"model": "gpt-5.6-luna", "cost_usd": 0.004}],
        "mapped": [[{"cost_usd": 0.003}, {"cost_usd": None}], {"cost_usd": 0.002}],
    }
    script = Script(ok(chat_answer()))
    operator = OpenAIChatCompletionOperator(
        task_id="third",
        model="gpt-5.6-luna",
        messages=USER,
        max_run_cost_usd=0.01,
        advanced={"max_completion_tokens": 1000},
    )
    operator.hook = make_hook(script)
    ti = FakeTI(earlier)
    with task_context(ti, FakeDag("first", "mapped", "third")) as context, raises(BudgetExceededError) as info:
        operator.execute(context)
    assert script.attempts == 0
    assert info.value.spent_usd == pytest.approx(0.009)
    assert "max_run_cost_usd" in str(info.value) and "1 earlier record(s) of unknown cost" in str(info.value)
    assert [task_ids for task_ids, _ in ti.pulls] == [["first"], ["mapped"], ["third"]]


def test_responses_budget_uses_the_exact_input_count(make_hook) -> None:
    script = Script(ok({"object": "response.input_tokens", "input_tokens": 2_000_000}))
    operator = OpenAIResponseOperator(
        task_id="t", model="gpt-5.6-luna", input="hi", max_output_tokens=16, max_cost_usd=0.1
    )
    operator.hook = make_hook(script)
    with raises(BudgetExceededError, match="counted by POST /responses/input_tokens"):
        operator.execute({})
    assert [request.url.path for request in script.requests] == ["/v1/responses/input_tokens"]


def test_flex_estimate_is_half_and_flex_fallback_needs_flex(make_hook) -> None:
    operator = OpenAIChatCompletionOperator(task_id="t", model="gpt-5.6-luna", messages=USER, flex_fallback=True)
    operator.hook = make_hook(Script(ok(chat_answer())))
    with raises(InvalidArgumentError, match="'flex_fallback'.*needs service_tier='flex'"):
        operator.execute({})
    operator = OpenAIChatCompletionOperator(task_id="t", model="gpt-5.6-luna", messages=USER, service_tier="slow")
    with raises(InvalidArgumentError, match="'service_tier'"):
        operator.execute({})


def test_tier_and_cache_arguments_are_sent(make_hook) -> None:
    script = Script(ok(chat_answer(tier="flex")))
    operator = OpenAIChatCompletionOperator(
        task_id="t",
        model="gpt-5.6-luna",
        messages=USER,
        service_tier="flex",
        prompt_cache_key="digest-v1",
        prompt_cache_retention="24h",
    )
    operator.hook = make_hook(script)
    operator.execute({})
    body = json.loads(script.requests[0].content)
    assert (body["service_tier"], body["prompt_cache_key"], body["prompt_cache_retention"]) == (
        "flex",
        "digest-v1",
        "24h",
    )
    assert operator.hook.settings.timeout == 900.0


def test_batch_usage_is_summed_at_the_batch_discount(make_hook, tmp_path) -> None:
    from airflow.sdk.execution_time.context import set_current_context

    from airflow_provider_openai_fusion.operators import OpenAIBatchOperator
    from tests.unit.batches_fake import FakeBatchAPI
    from tests.unit.fine_tuning_fake import context as ti_context

    api = FakeBatchAPI(usage={"input_tokens": 10_000, "output_tokens": 2_000, "total_tokens": 12_000})
    requests = [{"model": "gpt-5.6-luna", "messages": [{"role": "user", "content": f"q{n}"}]} for n in range(4)]
    task = OpenAIBatchOperator(
        task_id="create",
        endpoint="/v1/chat/completions",
        requests=requests,
        output_path=str(tmp_path / "out.jsonl"),
        poll_interval=0.001,
    )
    task.hook = make_hook(api)
    context = ti_context()
    with set_current_context(context):  # type: ignore[arg-type]
        task.execute(context)
    record = context["ti"].pushed[USAGE_KEY]
    assert (record["model"], record["service_tier"], record["calls"]) == ("gpt-5.6-luna", "batch", 4)
    assert record["cost_usd"] == pytest.approx(0.5 * (10_000 * 0.20 + 2_000 * 1.20) / 1_000_000)


def test_batch_budget_refuses_before_uploading(make_hook, tmp_path) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIBatchOperator
    from tests.unit.batches_fake import FakeBatchAPI
    from tests.unit.fine_tuning_fake import context as ti_context

    api = FakeBatchAPI()
    requests = [{"model": "gpt-5.6-sol", "messages": [{"role": "user", "content": f"q{n}"}]} for n in range(3)]
    task = OpenAIBatchOperator(
        task_id="create",
        endpoint="/v1/chat/completions",
        requests=requests,
        output_path=str(tmp_path / "out.jsonl"),
        max_cost_usd=1.0,
    )
    task.hook = make_hook(api)
    with raises(BudgetExceededError, match="3 request\\(s\\).*tier batch.*each request's max_completion_tokens"):
        task.execute(ti_context())
    assert api.requests == []


# The run report, from the records a fake task instance pulls.


def test_run_report_sums_by_model_and_task_and_writes_json(tmp_path) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIUsageReportOperator

    luna = {"model": "gpt-5.6-luna", "calls": 1, "input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    earlier = {
        "answer": [{**luna, "cost_usd": 0.25}, {**luna, "cost_usd": 0.5}],
        "embed": [[{"model": "mine", "calls": 2, "input_tokens": 7, "total_tokens": 7, "cost_usd": None}]],
        "report": [{"model": "should-not-count", "cost_usd": 9.0}],
    }
    ti = FakeTI(earlier)
    operator = OpenAIUsageReportOperator(task_id="report", source="run", output_path=str(tmp_path / "run.json"))
    with task_context(ti, FakeDag("answer", "embed", "report")) as context:
        summary = operator.execute(context)
    by_task = {row["task_id"]: row for row in summary["by_task"]}
    assert by_task["answer"]["calls"] == 2 and by_task["answer"]["cost_usd"] == 0.75
    assert by_task["embed"]["cost_usd"] is None and "report" not in by_task
    assert (summary["total"]["cost_usd"], summary["known_cost_usd"], summary["unknown_cost_records"]) == (None, 0.75, 1)
    written = json.loads((tmp_path / "run.json").read_text())
    assert [row["task_id"] for row in written] == ["answer", "answer", "embed"]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"source": "everything"}, "source"),
        ({"source": "run", "output_path": "/tmp/report.xlsx"}, "output_path"),
        ({"source": "organization", "group_by": ["colour"]}, "group_by"),
        ({"source": "organization", "start_time": "yesterday"}, "start_time"),
        ({"source": "organization", "start_time": 200, "end_time": 100}, "end_time"),
        ({"source": "organization", "start_time": 100, "usage_sources": ["costs"]}, "usage_sources"),
    ],
)
def test_report_arguments_are_checked_before_any_request(kwargs: dict[str, Any], argument: str) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIUsageReportOperator

    operator = OpenAIUsageReportOperator(task_id="r", **kwargs)
    with raises(InvalidArgumentError, match=f"'{argument}'"):
        operator.execute({})


def test_every_price_row_names_its_source_and_the_table_its_review_date() -> None:
    assert pricing.PRICES_REVIEWED_ON.isoformat() == "2026-12-07"
    assert all(row.source.startswith("https://") for row in pricing.PRICES.values())
    assert set(pricing.TIERS) == {"default", "flex", "priority", "batch"}


def test_transcription_is_priced_by_the_minute_and_budgeted_by_file_size(make_hook, tmp_path) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIManageAudioOperator
    from tests.unit.media import write_wav

    audio = write_wav(tmp_path / "speech.wav")
    answer = {"text": "hello", "usage": {"type": "duration", "seconds": 90}}
    operator = OpenAIManageAudioOperator(task_id="t", file=str(audio))
    operator.hook = make_hook(Script(ok(answer)))
    ti = FakeTI()
    with task_context(ti) as context:
        assert operator.execute(context) == answer
    record = ti.pushed[-1][1]
    assert record["model"] == "gpt-transcribe" and record["cost_usd"] == pytest.approx(1.5 * 0.0045)
    script = Script(ok(answer))
    refused = OpenAIManageAudioOperator(task_id="t", file=str(audio), max_cost_usd=0.0)
    refused.hook = make_hook(script)
    with raises(BudgetExceededError, match="1 minute per 120,000 bytes"):
        refused.execute({})
    assert script.attempts == 0


def test_images_are_priced_per_image_from_the_connection_prices(make_hook, tmp_path) -> None:
    import base64

    from airflow_provider_openai_fusion.operators import OpenAIGenerateImageOperator

    png = base64.b64encode(bytes.fromhex("89504e470d0a1a0a") + b"\\0" * 32).decode()
    answer = {"created": 1, "data": [{"b64_json": png}, {"b64_json": png}]}
    operator = OpenAIGenerateImageOperator(
        task_id="t", prompt="a cat", model="my-painter", n=2, output_path=str(tmp_path)
    )
    operator.hook = make_hook(Script(ok(answer)), prices='{"my-painter": {"per_image": 0.04}}')
    ti = FakeTI()
    with task_context(ti) as context:
        operator.execute(context)
    record = ti.pushed[-1][1]
    assert (record["model"], record["calls"], record["cost_usd"]) == ("my-painter", 1, pytest.approx(0.08))


def test_batch_model_is_the_one_model_the_batches_name() -> None:
    from airflow_provider_openai_fusion._ledger import batch_model

    assert batch_model([{"model": "gpt-6-luna"}, {"model": "gpt-6-luna"}, {}]) == "gpt-6-luna"
    assert batch_model([{"model": "gpt-6-luna"}, {"model": "gpt-5.6-luna"}]) is None
    assert batch_model([{}]) is None

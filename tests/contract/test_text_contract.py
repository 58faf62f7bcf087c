"""
The text and data operators against the stand-in behind ``prism proxy --errors``: Prism answers 422 to an
off-spec request and 500 to an off-spec response, so a green task here means its request and answer have the
shapes of OpenAI's published spec. It says nothing of OpenAI's behaviour: the completions, embeddings and
moderation results are the stand-in's (echoed or computed) values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_openai_fusion.exceptions import BadRequestError, NotFoundError
from tests.conftest import ROOT, AirflowHome, Stack, connection_json

# The session's stand-in starts in the first test that needs it (up to 120 s).
pytestmark = [pytest.mark.contract, pytest.mark.timeout(300)]
EXAMPLES = ROOT / "example_dags"


def _env(stack: Stack) -> dict[str, str]:
    return {"AIRFLOW_CONN_OPENAI_FUSION_DEFAULT": connection_json(stack.base_url, stack.api_key)}


def _assert_green(airflow_home: AirflowHome, tasks: dict, stack: Stack) -> None:
    failed = {label: result.state for label, result in tasks.items() if result.state != "success"}
    assert tasks and not failed, (failed, airflow_home.last.stdout[-4000:], airflow_home.last.stderr[-4000:])
    assert stack.api_key not in airflow_home.last.stdout + airflow_home.last.stderr


@pytest.mark.airflow
@pytest.mark.timeout(1200)  # airflow_home (up to 120 s) + run_dag (up to 600 s), with slack
def test_fan_out_dag_maps_over_inputs(airflow_home: AirflowHome, stack: Stack) -> None:
    tasks = airflow_home.run_dag(EXAMPLES / "openai_fusion_text_fan_out.py", "openai_fusion_text_fan_out", _env(stack))
    _assert_green(airflow_home, tasks, stack)
    reviews = tasks["fetch_reviews"].xcom
    for index in range(len(reviews)):
        assert tasks[f"moderate[{index}]"].xcom["results"][0]["flagged"] is False
        summary = tasks[f"summarize[{index}]"].xcom
        assert summary["object"] == "chat.completion"
        content = summary["choices"][0]["message"]["content"]
        assert content and reviews[index].startswith(content)
        assert tasks[f"tidy[{index}]"].xcom["object"] == "chat.completion"
    tidied = tasks["tidy[1]"].xcom["choices"][0]["message"]["content"]
    assert tidied == "the lid cracked after two days, very disappointed"
    embed = tasks["embed"].xcom
    assert embed["count"] == len(reviews) and embed["dimensions"] == 256
    lines = [json.loads(line) for line in Path(embed["path"]).read_text().splitlines()]
    assert [line["index"] for line in lines] == [0, 1, 2]
    assert all(len(line["embedding"]) == 256 for line in lines)


@pytest.mark.airflow
@pytest.mark.timeout(1200)  # airflow_home (up to 120 s) + run_dag (up to 600 s), with slack
def test_daily_digest_dag(airflow_home: AirflowHome, stack: Stack) -> None:
    tasks = airflow_home.run_dag(EXAMPLES / "openai_fusion_daily_digest.py", "openai_fusion_daily_digest", _env(stack))
    _assert_green(airflow_home, tasks, stack)
    notes = tasks["collect_notes"].xcom
    assert notes[0] in tasks["digest"].xcom["choices"][0]["message"]["content"]
    assert tasks["headline"].xcom["object"] == "text_completion"
    assert tasks["embed_notes"].xcom["count"] == 3 and tasks["embed_notes"].xcom["dimensions"] == 1536
    models = tasks["available_models"].xcom
    assert models["status_code"] == 200
    assert "gpt-4o-mini" in {model["id"] for model in models["body"]["data"]}
    assert "x-request-id" in models["headers"] and "authorization" not in models["headers"]


@pytest.fixture
def default_conn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_FUSION_DEFAULT", connection_json(stack.base_url, stack.api_key))
    return stack


def test_embeddings_split_into_requests_merge_in_order(default_conn: Stack) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIEmbeddingsOperator

    texts = [f"note {i}" for i in range(2050)]
    operator = OpenAIEmbeddingsOperator(
        task_id="embed", model="text-embedding-3-small", input=texts, dimensions=8, max_concurrency=2
    )
    result = operator.execute({})
    assert [item["index"] for item in result["data"]] == list(range(2050))
    assert result["usage"]["prompt_tokens"] == sum(-(-len(text) // 4) for text in texts)
    single = OpenAIEmbeddingsOperator(task_id="one", model="text-embedding-3-small", input=texts[2049], dimensions=8)
    assert single.execute({})["data"][0]["embedding"] == result["data"][2049]["embedding"]


def test_custom_call_posts_to_the_api(default_conn: Stack) -> None:
    from airflow_provider_openai_fusion.operators import OpenAICustomAPICallOperator

    operator = OpenAICustomAPICallOperator(
        task_id="call", url="moderations", method="POST", body='{"input": "I will kill you"}'
    )
    result = operator.execute({})
    assert result["status_code"] == 200 and result["body"]["results"][0]["flagged"] is True


def test_api_errors_come_back_as_openai_said(default_conn: Stack) -> None:
    from airflow_provider_openai_fusion.operators import OpenAIChatCompletionOperator, OpenAIEmbeddingsOperator

    too_long = OpenAIEmbeddingsOperator(task_id="e", model="text-embedding-3-small", input="x", dimensions=5000)
    with pytest.raises(BadRequestError, match="dimensions") as info:
        too_long.execute({})
    assert info.value.param == "dimensions" and info.value.request_id
    unknown = OpenAIChatCompletionOperator(task_id="c", model="gpt-0", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(NotFoundError, match="gpt-0") as info:
        unknown.execute({})
    assert info.value.code == "model_not_found"

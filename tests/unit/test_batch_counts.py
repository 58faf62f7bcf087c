"""
How the batch join counts result lines: cases added for mutants of ``count`` that survived the join's own tests
(scripts/mutation.sh batch_join): several lines of each kind, the 2xx boundaries, answers without a status.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_openai_fusion.operators._batch_results import NEVER_RAN, Counts, count


def _line(status: Any = None, error: Any = None, response: Any = "default") -> dict[str, Any]:
    answer = {"status_code": status, "body": {}} if response == "default" else response
    return {"custom_id": "c", "response": answer, "error": error}


def test_every_line_adds_one_to_its_kind() -> None:
    never_ran = sorted(NEVER_RAN)[0]
    lines = [
        _line(200),
        _line(201),
        _line(299),
        _line(300),
        _line(199),
        _line(404),
        _line(500),
        _line("200"),
        _line(response=None),
        _line(response="not an object"),
        _line(error={"code": "server_error", "message": "x"}),
        _line(error={"code": "server_error", "message": "y"}),
        _line(error={"code": never_ran, "message": "z"}),
        _line(error={"code": never_ran, "message": "z"}),
        _line(error={"code": never_ran, "message": "z"}),
    ]
    counts = Counts()
    for line in lines:
        count(line, counts)
    assert (counts.succeeded, counts.failed, counts.expired) == (3, 9, 3)

"""
What the package ships stays current, measured against ``REVIEWED_ON`` (never the wall clock): no default,
docs page, README snippet, docstring example or example DAG names a model shutting down within 90 days of it,
and the table itself is kept honest (a dated source per row, a review no older than the newest source).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from airflow_provider_openai_fusion.model_lifecycle import (
    DEFAULT_MODELS,
    RETIREMENTS,
    REVIEW_MAX_AGE_DAYS,
    REVIEWED_ON,
    SHIPPING_HORIZON_DAYS,
    newest_source_date,
    replacement_of,
    retirement_of,
    table_rows,
)
from tests.conftest import ROOT

HORIZON = REVIEWED_ON + timedelta(days=SHIPPING_HORIZON_DAYS)
QUOTED = re.compile(r"""["']([A-Za-z0-9][A-Za-z0-9._:-]*)["']""")
MODEL_ARGUMENT = re.compile(r"""\w*model\w*["']?\s*[=:]\s*["']([A-Za-z0-9][A-Za-z0-9._:-]*)["']""")
"""A model in use position: ``model="x"``, ``"chat_model": "x"``, ``text_model='x'``."""


def dying(names: set[str], horizon: date = HORIZON) -> set[str]:
    """The names whose model (or base model) shuts down on or before ``horizon``."""
    return {name for name in names if (row := retirement_of(name)) is not None and row.shutdown <= horizon}


def used_models(path: Path) -> set[str]:
    """The models ``path`` names in use position (prose about a retirement is allowed)."""
    return set(MODEL_ARGUMENT.findall(path.read_text(encoding="utf-8")))


def shipped_texts() -> list[Path]:
    package = [path for path in (ROOT / "airflow_provider_openai_fusion").rglob("*.py")]
    docs = sorted((ROOT / "docs").rglob("*.md")) + sorted((ROOT / "docs" / "snippets").glob("*.py"))
    return [ROOT / "README.md", *docs, *[path for path in package if path.name != "model_lifecycle.py"]]


def test_no_default_shuts_down_within_the_horizon() -> None:
    assert not dying(set(DEFAULT_MODELS.values())), dying(set(DEFAULT_MODELS.values()))


def test_no_readme_docs_or_docstring_example_names_a_dying_model() -> None:
    found = {str(path.relative_to(ROOT)): names for path in shipped_texts() if (names := dying(used_models(path)))}
    assert not found, found


def test_no_example_dag_names_a_dying_model_anywhere() -> None:
    dags = sorted((ROOT / "example_dags").glob("*.py"))
    assert len(dags) >= 5
    found = {
        path.name: names for path in dags if (names := dying(set(QUOTED.findall(path.read_text(encoding="utf-8")))))
    }
    assert not found, found


def test_the_scan_finds_dying_models_in_use_and_spares_prose(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        'Run `Op(model="gpt-4o-mini")` or `{"chat_model": "whisper-1"}` or `text_model=\'gpt-5.6-luna\'`.\n'
        "`gpt-4.1-mini` shuts down on 2027-01-14.\n",
        encoding="utf-8",
    )
    assert used_models(page) == {"gpt-4o-mini", "whisper-1", "gpt-5.6-luna"}
    assert dying(used_models(page)) == {"gpt-4o-mini", "whisper-1"}
    assert dying({"ft:gpt-4.1-mini-2025-04-14:acme::x"}) == {"ft:gpt-4.1-mini-2025-04-14:acme::x"}
    assert dying({"gpt-5.1"}) == set()  # 2027-04-01: beyond the 90 days
    assert dying({"gpt-5.1"}, REVIEWED_ON + timedelta(days=120)) == {"gpt-5.1"}


def test_the_review_is_not_older_than_the_newest_source() -> None:
    newest = newest_source_date()
    assert (newest - REVIEWED_ON).days <= REVIEW_MAX_AGE_DAYS, (
        f"REVIEWED_ON {REVIEWED_ON} is more than {REVIEW_MAX_AGE_DAYS} days older than the newest source ({newest}): "
        "review the table against OpenAI's deprecations page and move REVIEWED_ON"
    )
    assert newest <= REVIEWED_ON + timedelta(days=REVIEW_MAX_AGE_DAYS)


def test_every_row_has_a_dated_source() -> None:
    assert all(model == row.model for model, row in RETIREMENTS.items())
    assert all(row.source.startswith("https://") for row in RETIREMENTS.values())
    assert all(row.source_date <= REVIEWED_ON for row in RETIREMENTS.values())


def test_no_replacement_in_force_has_shut_down_itself() -> None:
    dead = {
        row.model: replacement
        for row in RETIREMENTS.values()
        if (replacement := replacement_of(row.model, REVIEWED_ON))
        and (after := RETIREMENTS.get(replacement.split()[0])) is not None
        and after.shutdown <= REVIEWED_ON
    }
    assert not dead, dead


def test_replacements_follow_the_chain_as_days_pass() -> None:
    assert RETIREMENTS["chatgpt-4o-latest"].replacement == "gpt-5.1-chat-latest"
    assert replacement_of("chatgpt-4o-latest", REVIEWED_ON) == "gpt-5.5"
    assert replacement_of("o1-preview", date(2026, 12, 10)) == "o3"
    assert replacement_of("o1-preview", date(2026, 12, 11)) == "gpt-6.1-sol"
    assert replacement_of("gpt-5.4-nano", REVIEWED_ON) is None


def test_the_groups_of_the_newest_review() -> None:
    groups = {
        "2026-12-01": ["gpt-image-1-mini", "gpt-image-1.5", "chatgpt-image-latest"],
        "2026-12-11": ["gpt-5", "gpt-5-mini", "gpt-5-nano", "o3", "o3-pro"],
        "2027-01-06": ["gpt-4o-mini-tts", "tts-1", "tts-1-hd"],
        "2027-01-14": ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"],
        "2027-01-20": ["gpt-realtime", "gpt-audio", "gpt-4o-realtime-preview", "gpt-4o-audio-preview-2025-06-03"],
        "2027-02-26": ["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"],
        "2027-04-01": ["gpt-5.1", "gpt-5.3-codex", "gpt-5.4-nano"],
    }
    assert {day: [RETIREMENTS[m].shutdown.isoformat() for m in models] for day, models in groups.items()} == {
        day: [day] * len(models) for day, models in groups.items()
    }
    assert {m: RETIREMENTS[m].replacement for m in ("gpt-5", "gpt-5-mini", "gpt-5-nano")} == {
        "gpt-5": "gpt-6.1-sol",
        "gpt-5-mini": "gpt-6.1-terra",
        "gpt-5-nano": "gpt-6.1-luna",
    }
    gone = ("chatgpt-4o-latest", "codex-mini-latest", "o1-preview", "o1-mini", "gpt-4.5-preview")
    assert all(RETIREMENTS[m].shutdown < date(2026, 3, 1) for m in gone)


def test_table_rows_are_plain_sorted_and_complete() -> None:
    rows = table_rows()
    assert len(rows) == len(RETIREMENTS)
    assert [row["shutdown"] for row in rows] == sorted(row["shutdown"] for row in rows)
    assert set(rows[0]) == {"model", "shutdown", "replacement", "source", "source_date"}
    assert all(isinstance(value, (str, type(None))) for row in rows for value in row.values())

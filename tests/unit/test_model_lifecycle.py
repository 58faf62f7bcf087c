"""The models of today: defaults, the retirement table, and the checks made before a request."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError, ModelRetiredError
from airflow_provider_openai_fusion.model_lifecycle import (
    FINE_TUNING_CUTOFF,
    RETIREMENTS,
    REVIEWED_ON,
    check_fine_tuning,
    check_model,
    check_variation,
    shutdown_date_of,
    shutdown_warning,
)
from tests.conftest import ROOT

OPENAI_URLS = [None, "", "https://api.openai.com/v1", "https://API.openai.com/v1/", " https://api.openai.com/v1 "]
OTHER_URLS = [
    "http://127.0.0.1:4010",
    "http://localhost:8000/v1",
    "https://my-resource.openai.azure.com/openai/v1",
    "https://api.openai.com.evil.example/v1",
    "https://proxy.example/api.openai.com/v1",
]
GPT_IMAGE_1 = RETIREMENTS["gpt-image-1"]
QUOTED = re.compile(r"""["']([A-Za-z0-9][A-Za-z0-9._:-]*)["']""")


def retired_names_in(path: Path, today: date) -> set[str]:
    """The quoted model ids in ``path`` that the table says are shut down on ``today``."""
    names = set(QUOTED.findall(path.read_text(encoding="utf-8")))
    return {name for name in names if name in RETIREMENTS and RETIREMENTS[name].shutdown <= today}


@pytest.mark.parametrize("base_url", OPENAI_URLS)
def test_a_model_past_its_shutdown_is_refused_at_openai_with_date_and_replacement(base_url: str | None) -> None:
    with pytest.raises(ModelRetiredError) as info:
        check_model("gpt-image-1", base_url=base_url, today=date(2026, 11, 29))
    error = info.value
    assert isinstance(error, InvalidArgumentError)
    assert (error.argument, error.model, error.shutdown, error.replacement) == (
        "model",
        "gpt-image-1",
        "2026-10-23",
        "gpt-image-2",
    )
    assert str(error) == (
        "Invalid argument 'model': gpt-image-1 was shut down at OpenAI on 2026-10-23 (per the provider's "
        "retirement table, reviewed on 2026-12-07); the recommended replacement is gpt-image-2"
    )


@pytest.mark.parametrize("base_url", OTHER_URLS)
def test_nothing_is_refused_or_warned_about_against_another_server(base_url: str) -> None:
    assert check_model("gpt-image-1", base_url=base_url, today=date(2026, 11, 29)) is None
    assert check_model("gpt-image-1-mini", base_url=base_url, today=date(2026, 11, 29)) is None
    assert check_fine_tuning(base_url=base_url, today=FINE_TUNING_CUTOFF + timedelta(days=400)) is None
    assert check_variation(base_url=base_url) is None


@pytest.mark.parametrize(
    ("days_before", "outcome"),
    [(31, None), (30, "in 30 days"), (2, "in 2 days"), (1, "tomorrow"), (0, "refused"), (-1, "refused")],
)
def test_the_warning_window_is_the_thirty_days_before_the_shutdown(days_before: int, outcome: str | None) -> None:
    today = GPT_IMAGE_1.shutdown - timedelta(days=days_before)
    if outcome == "refused":
        with pytest.raises(ModelRetiredError):
            check_model("gpt-image-1", base_url=None, today=today)
        return
    warning = check_model("gpt-image-1", base_url=None, today=today)
    if outcome is None:
        assert warning is None
    else:
        assert warning == (
            "Model gpt-image-1 (at OpenAI, per the provider's retirement table, reviewed on 2026-12-07) "
            f"shuts down on 2026-10-23 ({outcome}); "
            "the recommended replacement is gpt-image-2"
        )


def test_models_outside_the_table_and_no_model_pass() -> None:
    assert check_model("gpt-image-2", base_url=None, today=date(2030, 1, 1)) is None
    assert check_model(None, base_url=None) is None
    assert check_model("", base_url=None) is None


def test_a_fine_tuned_model_follows_its_base_model() -> None:
    with pytest.raises(ModelRetiredError) as info:
        check_model("ft:gpt-4.1-nano-2025-04-14:acme::AbC123", base_url=None, today=date(2026, 11, 29))
    assert info.value.shutdown == "2026-10-23"
    warning = check_model("ft:gpt-4o-mini-2024-07-18:acme:faq:XyZ", base_url=None, today=date(2027, 1, 1))
    assert warning is not None and "2027-01-14 (in 13 days)" in warning


def test_fine_tuning_logs_the_cutoff_while_ahead_and_refuses_after_it_at_openai() -> None:
    text = check_fine_tuning(base_url="https://api.openai.com/v1", today=date(2026, 11, 29))
    assert text is not None and text.startswith("New fine-tuning jobs end at OpenAI on 2027-01-06 (38 days left")
    assert text.endswith("models already fine-tuned stay usable")
    tuned = check_fine_tuning(base_url=None, today=date(2026, 12, 7), model="gpt-4o-mini-2024-07-18")
    assert tuned is not None and tuned.endswith(
        "stay usable until their base model shuts down (gpt-4o-mini-2024-07-18 on 2027-01-14)"
    )
    last_day = check_fine_tuning(base_url=None, today=FINE_TUNING_CUTOFF - timedelta(days=1))
    assert last_day is not None and "(1 day left;" in last_day
    for today in (FINE_TUNING_CUTOFF, FINE_TUNING_CUTOFF + timedelta(days=30)):
        with pytest.raises(InvalidArgumentError) as info:
            check_fine_tuning(base_url=None, today=today)
        assert info.value.argument == "action" and "2027-01-06" in info.value.reason


def test_variation_is_refused_at_openai_pointing_at_edit() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_variation(base_url="https://api.openai.com/v1")
    assert info.value.argument == "operation"
    assert info.value.reason == (
        "variations take only dall-e-2, which OpenAI removed from its API on 2026-05-12; "
        "use operation='edit' with a GPT image model such as gpt-image-2 instead"
    )


@pytest.mark.parametrize(
    ("model_object", "expected"),
    [
        ({"id": "m", "shutdown_date": "2026-12-01"}, date(2026, 12, 1)),
        ({"id": "m", "shutdown_date": None}, None),
        ({"id": "m"}, None),
        ({"id": "m", "shutdown_date": "soon"}, None),
        ({"id": "m", "shutdown_date": True}, None),
        ({"id": "m", "shutdown_date": 1_796_083_200}, date(2026, 12, 1)),
    ],
)
def test_shutdown_date_is_read_as_the_spec_gives_it(model_object: dict, expected: date | None) -> None:
    assert shutdown_date_of(model_object) == expected


def test_shutdown_warning_covers_past_and_near_models_only() -> None:
    today = date(2026, 11, 29)
    past = shutdown_warning({"id": "gpt-image-1", "shutdown_date": "2026-10-23"}, today=today)
    near = shutdown_warning({"id": "gpt-image-1-mini", "shutdown_date": "2026-12-01"}, today=today)
    unknown = shutdown_warning({"id": "local-model", "shutdown_date": "2026-12-20"}, today=today)
    assert past == "Model gpt-image-1 was shut down on 2026-10-23; the recommended replacement is gpt-image-2"
    assert (
        near == "Model gpt-image-1-mini shuts down on 2026-12-01 (in 2 days); the recommended replacement is "
        "gpt-image-2.6-sunburst or gpt-image-2.6-flare"
    )
    assert unknown == "Model local-model shuts down on 2026-12-20 (in 21 days)"
    assert shutdown_warning({"id": "gpt-4o-mini", "shutdown_date": "2027-01-14"}, today=today) is None
    assert shutdown_warning({"id": "gpt-image-2", "shutdown_date": None}, today=today) is None


def test_the_models_page_prints_the_review_date() -> None:
    page = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    assert f"reviewed on {REVIEWED_ON.isoformat()}" in page


def test_importing_it_loads_no_airflow_pydantic_or_httpx() -> None:
    code = (
        "import sys; import airflow_provider_openai_fusion.model_lifecycle; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'airflow', 'pydantic', 'httpx'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"

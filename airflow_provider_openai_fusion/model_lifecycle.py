"""
The models of today: the package's defaults, OpenAI's retirement table, and the checks made before a request.

Pure Python (no Airflow, pydantic or httpx at import time), so a DAG file or an operator may import it for
nothing. The checks only ever refuse at OpenAI's own base URL (host ``api.openai.com``, or an empty base URL,
which means OpenAI's): a compatible server (vLLM, llama.cpp, a local stand-in) may serve any name, so against
it nothing is refused and nothing is warned about.

- :data:`DEFAULT_MODELS` holds every default model (and the default voice) of the package, checked against the
  official spec and OpenAI's deprecations page on :data:`REVIEWED_ON`.
- :data:`RETIREMENTS` maps a model id to its shutdown date and OpenAI's recommended replacement.
- :func:`check_model` refuses a model past its shutdown date and returns a warning within
  :data:`WARNING_DAYS` before it; :func:`check_fine_tuning` and :func:`check_variation` do the same for
  fine-tuning jobs (which end at OpenAI on :data:`FINE_TUNING_CUTOFF`) and for image variations (``dall-e-2``
  only, removed); :func:`shutdown_warning` reads the ``shutdown_date`` of a model object from ``GET /models``.

Sources of the table (read on :data:`REVIEWED_ON`): OpenAI's deprecations page
(https://developers.openai.com/api/docs/deprecations, formerly https://platform.openai.com/docs/deprecations),
its model pages and guides, and dated copies of the page where the current one is cut short; each group below
names its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from types import MappingProxyType
from urllib.parse import urlsplit

from airflow_provider_openai_fusion._http.hosts import canonical_host
from airflow_provider_openai_fusion.defaults import DEFAULT_MODELS

REVIEWED_ON = date(2026, 11, 29)
WARNING_DAYS = 30
OPENAI_API_HOST = "api.openai.com"
FINE_TUNING_CUTOFF = date(2027, 1, 6)
VARIATION_MODEL = "dall-e-2"

_DEPRECATIONS = "https://developers.openai.com/api/docs/deprecations"
_OCT_2026 = "https://dev.to/importstatic/every-openai-model-shutdown-date-until-january-2027-and-what-replaces-it-1dfk"
_DEC_2026 = "https://dev.to/aideprecations/what-to-do-before-openai-gpt-5-and-o3-shut-down-on-december-11-2026-fap"
_JAN_2027 = "https://codersera.com/blog/gpt-4o-gpt-4-1-api-shutdown-migration-2026/"
_INSTRUCT_MODEL = "gpt-3.5-turbo-instruct"
_INSTRUCT = "https://codersera.com/blog/gpt-3-5-turbo-shutdown-2026-what-to-use-instead/"
_DALL_E = "https://developers.openai.com/api/docs/models/dall-e-2.md"
_SPEECH = "https://developers.openai.com/api/docs/guides/text-to-speech"
_TRANSCRIBE = "https://www.developersdigest.tech/blog/whisper-1-gpt-4o-transcribe-deprecation"
_JUL_2026 = "https://spybara.com/openai/api/history/docs/en/2026-05-12-1857..2026-05-14-2100/"
_AUDIO_PREVIEW = "https://weighmyprompt.com/deprecations/openai-gpt-4o-audio-preview"


@dataclass(frozen=True)
class Retirement:
    """
    One row of the retirement table.

    :param model: the model id.
    :param shutdown: the day OpenAI stops serving it.
    :param replacement: OpenAI's recommended replacement.
    :param source: where the row comes from.
    """

    model: str
    shutdown: date
    replacement: str
    source: str


def _rows(shutdown: str, replacement: str, source: str, *models: str) -> list[Retirement]:
    day = date.fromisoformat(shutdown)
    return [Retirement(model, day, replacement, source) for model in models]


RETIREMENTS: Mapping[str, Retirement] = MappingProxyType(
    {
        row.model: row
        for row in (
            # Images: DALL·E removed around 2026-05-12; the GPT image models of 2025 follow in October and December.
            *_rows("2026-05-12", "gpt-image-2", _DALL_E, "dall-e-2", "dall-e-3"),
            *_rows("2026-10-23", "gpt-image-2", _OCT_2026, "gpt-image-1"),
            *_rows(
                "2026-12-01",
                "gpt-image-2",
                _DEPRECATIONS,
                "gpt-image-1-mini",
                "gpt-image-1.5",
                "gpt-image-1.5-2025-12-16",
                "chatgpt-image-latest",
            ),
            # Completions (legacy /completions) and the chat models of the 2026-04-22 notice.
            *_rows("2026-09-28", "gpt-5.6-luna (on /chat/completions or /responses)", _INSTRUCT, _INSTRUCT_MODEL),
            *_rows(
                "2026-10-23",
                "gpt-5.6-terra",
                _OCT_2026,
                "gpt-3.5-turbo",
                "gpt-3.5-turbo-0125",
                "gpt-3.5-turbo-1106",
                "o4-mini",
                "o4-mini-2025-04-16",
            ),
            *_rows(
                "2026-10-23",
                "gpt-5.6-sol",
                _OCT_2026,
                "gpt-4",
                "gpt-4-0613",
                "gpt-4-1106-preview",
                "gpt-4-turbo",
                "gpt-4-turbo-2024-04-09",
                "gpt-4o-2024-05-13",
                "o1",
                "o1-2024-12-17",
                "o1-pro",
                "o1-pro-2025-03-19",
                "o3-mini",
                "o3-mini-2025-01-31",
            ),
            *_rows("2026-10-23", "gpt-5.6-luna", _OCT_2026, "gpt-4.1-nano", "gpt-4.1-nano-2025-04-14"),
            *_rows("2026-08-10", "gpt-5.5", _JUL_2026, "gpt-5.2-chat-latest", "gpt-5.3-chat-latest"),
            *_rows(
                "2026-07-23",
                "gpt-5.5",
                _JUL_2026,
                "gpt-5-chat-latest",
                "gpt-5.1-chat-latest",
            ),
            *_rows(
                "2026-07-23",
                "gpt-5.4",
                _JUL_2026,
                "gpt-5-codex",
                "gpt-5.1-codex",
                "gpt-5.1-codex-max",
                "gpt-5.2-codex",
            ),
            *_rows("2026-07-23", "gpt-5.4-mini", _JUL_2026, "computer-use-preview", "computer-use-preview-2025-03-11"),
            *_rows(
                "2026-07-23",
                "gpt-4.1-mini",
                _JUL_2026,
                "gpt-4o-search-preview-2025-03-11",
                "gpt-4o-mini-search-preview-2025-03-11",
            ),
            *_rows(
                "2026-12-11",
                "gpt-5.6-sol",
                _DEC_2026,
                "gpt-5",
                "gpt-5-2025-08-07",
                "gpt-5-pro",
                "gpt-5-pro-2025-10-06",
                "o3",
                "o3-2025-04-16",
                "o3-pro",
                "o3-pro-2025-06-10",
            ),
            *_rows("2026-12-11", "gpt-5.6-terra", _DEC_2026, "gpt-5-mini", "gpt-5-mini-2025-08-07"),
            *_rows("2026-12-11", "gpt-5.6-luna", _DEC_2026, "gpt-5-nano", "gpt-5-nano-2025-08-07"),
            *_rows(
                "2027-01-14",
                "gpt-6-luna",
                _JAN_2027,
                "gpt-4o",
                "gpt-4o-2024-08-06",
                "gpt-4o-2024-11-20",
                "gpt-4o-mini",
                "gpt-4o-mini-2024-07-18",
                "gpt-4.1",
                "gpt-4.1-2025-04-14",
                "gpt-4.1-mini",
                "gpt-4.1-mini-2025-04-14",
            ),
            # Audio: previews in May and July 2026; speech on 2027-01-06; transcription and translation on 2027-02-26.
            *_rows("2026-05-07", "gpt-audio-1.5", _AUDIO_PREVIEW, "gpt-4o-audio-preview"),
            *_rows("2026-07-23", "gpt-realtime", _JUL_2026, "gpt-4o-mini-tts-2025-03-20"),
            *_rows("2026-07-23", "gpt-audio-1.5", _JUL_2026, "gpt-4o-audio-preview-2024-12-17"),
            *_rows(
                "2026-07-23",
                "gpt-audio-mini",
                _JUL_2026,
                "gpt-4o-mini-audio-preview-2024-12-17",
                "gpt-audio-mini-2025-10-06",
            ),
            *_rows(
                "2026-07-23",
                "gpt-realtime-mini",
                _JUL_2026,
                "gpt-4o-mini-realtime-preview-2024-12-17",
                "gpt-realtime-mini-2025-10-06",
            ),
            *_rows(
                "2027-01-06",
                "gpt-realtime-2.1-mini (on the Realtime API; /audio/speech shuts down)",
                _SPEECH,
                "tts-1",
                "tts-1-hd",
                "gpt-4o-mini-tts",
                "gpt-4o-mini-tts-2025-12-15",
            ),
            *_rows(
                "2027-02-26",
                "gpt-transcribe (files) or gpt-live-transcribe (live audio); /audio/translations shuts down",
                _TRANSCRIBE,
                "whisper-1",
                "gpt-4o-transcribe",
                "gpt-4o-mini-transcribe",
                "gpt-4o-mini-transcribe-2025-12-15",
                "gpt-4o-transcribe-diarize",
            ),
        )
    }
)


def today_utc() -> date:
    """Today's date in UTC, the calendar of OpenAI's shutdown dates."""
    return datetime.now(timezone.utc).date()


def is_openai(base_url: str | None) -> bool:
    """
    Whether ``base_url`` is OpenAI's own API (an empty one means OpenAI's default): its host, in canonical form
    (``API.OpenAI.com.`` counts), is exactly OpenAI's; look-alikes such as ``api.openai.com.evil.test`` are not.

    :param base_url: the connection's base URL.
    """
    if not base_url:
        return True
    try:
        return canonical_host(urlsplit(base_url.strip()).hostname or "") == OPENAI_API_HOST
    except ValueError:
        return False


def retirement_of(model: str) -> Retirement | None:
    """
    The table's row for ``model``; a fine-tuned model (``ft:<base>:...``) follows the row of its base model.

    :param model: a model id.
    """
    if model.startswith("ft:"):
        model = model.split(":")[1]
    return RETIREMENTS.get(model)


def _warning(what: str, shutdown: date, replacement: str | None, today: date) -> str:
    days = (shutdown - today).days
    when = "tomorrow" if days == 1 else f"in {days} days"
    advice = f"; the recommended replacement is {replacement}" if replacement else ""
    return f"{what} shuts down on {shutdown.isoformat()} ({when}){advice}"


def check_model(model: str | None, *, base_url: str | None, today: date | None = None) -> str | None:
    """
    Check ``model`` against the retirement table, before any request.

    At OpenAI's base URL: a model past its shutdown date raises
    :class:`~airflow_provider_openai_fusion.exceptions.ModelRetiredError`; within :data:`WARNING_DAYS` before
    it, the warning text (model, date, replacement) is returned for the task log. Anywhere else, and for a model
    not in the table (or no model), returns ``None``.

    :param model: the model the task names; ``None`` when it leaves it to the server.
    :param base_url: the connection's base URL.
    :param today: the day to judge by; default today in UTC.
    """
    if not model or not is_openai(base_url):
        return None
    row = retirement_of(model)
    if row is None:
        return None
    today = today or today_utc()
    if today >= row.shutdown:
        from airflow_provider_openai_fusion.exceptions import ModelRetiredError

        raise ModelRetiredError(model, row.shutdown.isoformat(), row.replacement)
    if (row.shutdown - today).days <= WARNING_DAYS:
        return _warning(f"Model {model} (at OpenAI)", row.shutdown, row.replacement, today)
    return None


def check_fine_tuning(*, base_url: str | None, today: date | None = None) -> str | None:
    """
    Check that a new fine-tuning job may still be created at OpenAI, before any request.

    At OpenAI's base URL: before :data:`FINE_TUNING_CUTOFF`, returns the text to log (the cut-off and the days
    left); from that day on, raises ``InvalidArgumentError`` for ``action`` with the date. Anywhere else: ``None``.

    :param base_url: the connection's base URL.
    :param today: the day to judge by; default today in UTC.
    """
    if not is_openai(base_url):
        return None
    today = today or today_utc()
    cutoff = FINE_TUNING_CUTOFF.isoformat()
    if today >= FINE_TUNING_CUTOFF:
        from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

        raise InvalidArgumentError(
            "action", f"OpenAI stopped accepting new fine-tuning jobs on {cutoff}; 'create' cannot succeed there"
        )
    days = (FINE_TUNING_CUTOFF - today).days
    left = "1 day left" if days == 1 else f"{days} days left"
    return (
        f"New fine-tuning jobs end at OpenAI on {cutoff} ({left}; self-serve fine-tuning has been "
        "restricted since 2026-05-07 and 2026-07-02); models already fine-tuned stay usable"
    )


def check_variation(*, base_url: str | None) -> None:
    """
    Refuse ``operation="variation"`` at OpenAI's base URL, before any request: it takes ``dall-e-2`` only.

    :param base_url: the connection's base URL.
    """
    if not is_openai(base_url):
        return
    from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

    removed = RETIREMENTS[VARIATION_MODEL].shutdown.isoformat()
    raise InvalidArgumentError(
        "operation",
        f"variations take only {VARIATION_MODEL}, which OpenAI removed from its API on {removed}; use "
        f"operation='edit' with a GPT image model such as {DEFAULT_MODELS['image']} instead",
    )


def shutdown_date_of(model_object: Mapping[str, object]) -> date | None:
    """
    The ``shutdown_date`` of a model object from ``GET /models``, or ``None`` when absent, null or unreadable.

    The spec gives it as a ``YYYY-MM-DD`` string (``format: date``) or null; a number is read as Unix seconds,
    as a compatible server might send it.

    :param model_object: one model object.
    """
    value = model_object.get("shutdown_date")
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc).date()
    return None


def shutdown_warning(model_object: Mapping[str, object], *, today: date | None = None) -> str | None:
    """
    A warning for a model object whose ``shutdown_date`` is past or within :data:`WARNING_DAYS`; else ``None``.

    The replacement is named when the retirement table knows the model.

    :param model_object: one model object from ``GET /models``.
    :param today: the day to judge by; default today in UTC.
    """
    shutdown = shutdown_date_of(model_object)
    if shutdown is None:
        return None
    today = today or today_utc()
    model = str(model_object.get("id", "?"))
    row = retirement_of(model)
    replacement = row.replacement if row else None
    if today >= shutdown:
        advice = f"; the recommended replacement is {replacement}" if replacement else ""
        return f"Model {model} was shut down on {shutdown.isoformat()}{advice}"
    if (shutdown - today).days <= WARNING_DAYS:
        return _warning(f"Model {model}", shutdown, replacement, today)
    return None

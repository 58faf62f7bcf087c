"""
The models of today: the package's defaults, OpenAI's retirement table, and the checks made before a request.

Pure Python (no Airflow, pydantic or httpx at import time), so a DAG file or an operator may import it for
nothing. Two sources are merged (:func:`verdict_of`): the ``shutdown_date`` the connection's own server publishes
in ``GET /models`` (any server; read by :mod:`~airflow_provider_openai_fusion.live_models`), which wins, and the
table below, which counts only at OpenAI's own base URL (host ``api.openai.com``, or an empty base URL) and
alone names replacements. A compatible server that publishes nothing is never refused or warned about.

- :data:`DEFAULT_MODELS` holds every default model (and the default voice) of the package, checked against the
  official spec and OpenAI's deprecations page on :data:`REVIEWED_ON`.
- :data:`RETIREMENTS` maps a model id to its shutdown date, OpenAI's recommended replacement and the dated copy
  of the deprecations page it comes from (:func:`table_rows` gives it as plain rows).
- :func:`check_model` refuses a model past its shutdown date and returns a warning within
  :data:`WARNING_DAYS` before it; :func:`check_fine_tuning`, :func:`check_endpoint` and :func:`check_variation`
  do the same for new fine-tuning jobs (which end at OpenAI on :data:`FINE_TUNING_CUTOFF`), for the endpoints
  OpenAI shuts down (:data:`ENDPOINT_SHUTDOWNS`) and for image variations (``dall-e-2`` only, removed);
  :func:`shutdown_warning` reads the ``shutdown_date`` of a model object from ``GET /models``.

Sources of the table (read on :data:`REVIEWED_ON`): OpenAI's deprecations page
(https://developers.openai.com/api/docs/deprecations, formerly https://platform.openai.com/docs/deprecations),
its model pages and guides, and dated copies of the page (or of pages quoting it) where the stored one is cut
short; every row names its copy and that copy's date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from types import MappingProxyType
from urllib.parse import urlsplit

from airflow_provider_openai_fusion._http.hosts import canonical_host
from airflow_provider_openai_fusion.defaults import DEFAULT_MODELS

REVIEWED_ON = date(2026, 12, 7)
WARNING_DAYS = 30
SHIPPING_HORIZON_DAYS = 90
"""Nothing the package ships (defaults, docs, examples) names a model shutting down within this many days of
:data:`REVIEWED_ON`."""
REVIEW_MAX_AGE_DAYS = 60
""":data:`REVIEWED_ON` may lag the newest source copy in the table by at most this many days."""
OPENAI_API_HOST = "api.openai.com"
FINE_TUNING_CUTOFF = date(2027, 1, 6)
VARIATION_MODEL = "dall-e-2"


@dataclass(frozen=True)
class Source:
    """
    A dated copy of OpenAI's deprecations page (or of a page quoting it) that rows of the table come from.

    :param url: where the copy was read.
    :param as_of: the date of the copy; for a copy that carries no date, the day it was read.
    """

    url: str
    as_of: date


_DEPRECATIONS_NOW = Source(
    "https://developers.openai.com/api/docs/deprecations?translationFallback=zh-Hans", date(2026, 12, 7)
)
_OCT_27 = Source(
    "https://dev.to/max_bob/openai-api-deprecations-2026-2027-every-shutdown-date-and-recommended-replacement-gpt-4o-2ffm",
    date(2026, 10, 27),
)
_OCT_15 = Source(
    "https://dev.to/importstatic/every-openai-model-shutdown-date-until-january-2027-and-what-replaces-it-1dfk",
    date(2026, 10, 15),
)
_DRIFTLINE = Source("https://dev.to/aidriftline", date(2026, 12, 7))
_REALTIME_21 = Source("https://docs.retellai.com/deprecation-notice/2027/01-19_model_replacements", date(2026, 12, 7))
_MAY_14 = Source("https://spybara.com/openai/api/history/docs/en/2026-05-12-1857..2026-05-14-2100/", date(2026, 5, 14))
_NOV_2025 = Source("https://archive.li/3RThE", date(2025, 11, 18))
_INSTRUCT = Source("https://codersera.com/blog/gpt-3-5-turbo-shutdown-2026-what-to-use-instead/", date(2026, 11, 29))
_DALL_E = Source("https://developers.openai.com/api/docs/models/dall-e-2.md", date(2026, 11, 29))
_SPEECH = Source("https://developers.openai.com/api/docs/guides/text-to-speech", date(2026, 11, 29))
_TRANSCRIBE = Source(
    "https://www.developersdigest.tech/blog/whisper-1-gpt-4o-transcribe-deprecation", date(2026, 11, 29)
)
_AUDIO_PREVIEW = Source("https://weighmyprompt.com/deprecations/openai-gpt-4o-audio-preview", date(2026, 3, 12))
_CYBER = Source("https://www.w3cschool.cn/openai_api/openai_api-docs-deprecations.html", date(2026, 12, 7))
_INSTRUCT_MODEL = "gpt-3.5-turbo-instruct"


@dataclass(frozen=True)
class Retirement:
    """
    One row of the retirement table.

    :param model: the model id.
    :param shutdown: the day OpenAI stops serving it.
    :param replacement: OpenAI's recommended replacement, as the source names it; ``None`` when it names none.
    :param source: the URL of the copy the row comes from.
    :param source_date: the date of that copy (the day it was read when the copy carries no date).
    """

    model: str
    shutdown: date
    replacement: str | None
    source: str
    source_date: date


def _rows(shutdown: str, replacement: str | None, source: Source, *models: str) -> list[Retirement]:
    day = date.fromisoformat(shutdown)
    return [Retirement(model, day, replacement, source.url, source.as_of) for model in models]


_REALTIME_ADVICE = "gpt-realtime-2.1-mini (on the Realtime API; /audio/speech shuts down)"
_TRANSCRIBE_ADVICE = "gpt-transcribe (files) or gpt-live-transcribe (live audio); /audio/translations shuts down"

RETIREMENTS: Mapping[str, Retirement] = MappingProxyType(
    {
        row.model: row
        for row in (
            # Already shut down before 2026 (the page's history; replacements followed by replacement_of()).
            *_rows("2024-12-06", "gpt-4o", _NOV_2025, "gpt-4-vision-preview", "gpt-4-1106-vision-preview"),
            *_rows("2025-06-06", "gpt-4o", _NOV_2025, "gpt-4-32k", "gpt-4-32k-0613"),
            *_rows("2025-07-14", "gpt-4.1", _NOV_2025, "gpt-4.5-preview", "gpt-4.5-preview-2025-02-27"),
            *_rows("2025-07-28", "o3", _NOV_2025, "o1-preview", "o1-preview-2024-09-12"),
            *_rows("2025-10-27", "o4-mini", _NOV_2025, "o1-mini", "o1-mini-2024-09-12"),
            *_rows("2025-09-10", "gpt-realtime", _NOV_2025, "gpt-4o-realtime-preview-2024-10-01"),
            *_rows("2025-10-10", "gpt-audio", _NOV_2025, "gpt-4o-audio-preview-2024-10-01"),
            *_rows("2026-01-16", "gpt-5-codex-mini", _NOV_2025, "codex-mini-latest"),
            *_rows("2026-02-17", "gpt-5.1-chat-latest", _NOV_2025, "chatgpt-4o-latest"),
            # Images: DALL·E removed around 2026-05-12; the GPT image models of 2025 follow in October and December.
            *_rows("2026-05-12", "gpt-image-2", _DALL_E, "dall-e-2", "dall-e-3"),
            *_rows("2026-10-23", "gpt-image-2", _OCT_15, "gpt-image-1"),
            *_rows(
                "2026-12-01",
                "gpt-image-2.6-sunburst or gpt-image-2.6-flare",
                _DEPRECATIONS_NOW,
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
                _OCT_15,
                "gpt-3.5-turbo",
                "gpt-3.5-turbo-0125",
                "gpt-3.5-turbo-1106",
                "o4-mini",
                "o4-mini-2025-04-16",
            ),
            *_rows(
                "2026-10-23",
                "gpt-5.6-sol",
                _OCT_15,
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
            *_rows("2026-10-23", "gpt-5.6-luna", _OCT_15, "gpt-4.1-nano", "gpt-4.1-nano-2025-04-14"),
            *_rows("2026-08-10", "gpt-5.5", _MAY_14, "gpt-5.2-chat-latest", "gpt-5.3-chat-latest"),
            *_rows("2026-07-23", "gpt-5.5", _MAY_14, "gpt-5-chat-latest", "gpt-5.1-chat-latest"),
            *_rows(
                "2026-07-23",
                "gpt-5.4",
                _MAY_14,
                "gpt-5-codex",
                "gpt-5.1-codex",
                "gpt-5.1-codex-max",
                "gpt-5.2-codex",
            ),
            *_rows("2026-07-23", "gpt-5.4-mini", _MAY_14, "gpt-5.1-codex-mini", "gpt-5-codex-mini"),
            *_rows("2026-07-23", "gpt-5.4-mini", _MAY_14, "computer-use-preview", "computer-use-preview-2025-03-11"),
            *_rows(
                "2026-07-23",
                "gpt-4.1-mini",
                _MAY_14,
                "gpt-4o-search-preview-2025-03-11",
                "gpt-4o-mini-search-preview-2025-03-11",
            ),
            # The GPT-5 family and o3 on 2026-12-11 (the page's replacements moved from gpt-5.6-* to gpt-6.1-*).
            *_rows(
                "2026-12-11",
                "gpt-6.1-sol",
                _DEPRECATIONS_NOW,
                "gpt-5",
                "gpt-5-2025-08-07",
                "gpt-5-pro",
                "gpt-5-pro-2025-10-06",
                "o3",
                "o3-2025-04-16",
                "o3-pro",
                "o3-pro-2025-06-10",
            ),
            *_rows("2026-12-11", "gpt-6.1-terra", _DEPRECATIONS_NOW, "gpt-5-mini", "gpt-5-mini-2025-08-07"),
            *_rows("2026-12-11", "gpt-6.1-luna", _DEPRECATIONS_NOW, "gpt-5-nano", "gpt-5-nano-2025-08-07"),
            *_rows(
                "2027-01-14",
                "gpt-6-luna",
                _OCT_27,
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
            # 2026-11-05 notice: "the most capable cybersecurity model you have access to", no model named.
            *_rows("2027-02-01", None, _CYBER, "gpt-5.5-cyber-preview"),
            *_rows(
                "2027-04-01",
                None,
                _DRIFTLINE,
                "gpt-5.1",
                "gpt-5.1-2025-11-13",
                "gpt-5.3-codex",
                "gpt-5.4-nano",
                "gpt-5.4-nano-2026-03-17",
            ),
            # Audio: previews in 2025 and 2026; speech on 2027-01-06; realtime and audio chat on 2027-01-20;
            # transcription and translation on 2027-02-26.
            *_rows("2026-05-07", "gpt-audio-1.5", _AUDIO_PREVIEW, "gpt-4o-audio-preview"),
            *_rows("2026-07-23", "gpt-realtime", _MAY_14, "gpt-4o-mini-tts-2025-03-20"),
            *_rows("2026-07-23", "gpt-audio-1.5", _MAY_14, "gpt-4o-audio-preview-2024-12-17"),
            *_rows(
                "2026-07-23",
                "gpt-audio-mini",
                _MAY_14,
                "gpt-4o-mini-audio-preview-2024-12-17",
                "gpt-audio-mini-2025-10-06",
            ),
            *_rows(
                "2026-07-23",
                "gpt-realtime-mini",
                _MAY_14,
                "gpt-4o-mini-realtime-preview-2024-12-17",
                "gpt-realtime-mini-2025-10-06",
            ),
            *_rows("2027-01-06", _REALTIME_ADVICE, _SPEECH, "tts-1", "tts-1-hd", "gpt-4o-mini-tts"),
            *_rows("2027-01-06", _REALTIME_ADVICE, _SPEECH, "gpt-4o-mini-tts-2025-12-15"),
            *_rows(
                "2027-01-20",
                "gpt-realtime-2.1",
                _DRIFTLINE,
                "gpt-realtime",
                "gpt-realtime-2025-08-28",
                "gpt-4o-realtime-preview",
                "gpt-4o-realtime-preview-2024-12-17",
                "gpt-4o-realtime-preview-2025-06-03",
            ),
            *_rows("2027-01-20", "gpt-realtime-2.1-mini", _REALTIME_21, "gpt-realtime-mini"),
            *_rows(
                "2027-01-20",
                "gpt-audio-1.5",
                _DRIFTLINE,
                "gpt-audio",
                "gpt-audio-2025-08-28",
                "gpt-4o-audio-preview-2025-06-03",
            ),
            *_rows(
                "2027-02-26",
                _TRANSCRIBE_ADVICE,
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


def table_rows() -> list[dict[str, str | None]]:
    """
    The retirement table as plain rows, sorted by shutdown date then model, for the docs and the report.

    Each row: ``model``, ``shutdown`` (``YYYY-MM-DD``), ``replacement`` (the one in force on
    :data:`REVIEWED_ON`, following replacements that shut down themselves; ``None`` when none is named),
    ``source`` (URL) and ``source_date`` (``YYYY-MM-DD``).
    """
    rows = sorted(RETIREMENTS.values(), key=lambda row: (row.shutdown, row.model))
    return [
        {
            "model": row.model,
            "shutdown": row.shutdown.isoformat(),
            "replacement": replacement_of(row.model, REVIEWED_ON),
            "source": row.source,
            "source_date": row.source_date.isoformat(),
        }
        for row in rows
    ]


def newest_source_date() -> date:
    """The date of the newest source copy the table cites."""
    return max(row.source_date for row in RETIREMENTS.values())


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


def base_model_of(model: str) -> str:
    """
    The model itself, or for a fine-tuned model (``ft:<base>:...``) its base model.

    :param model: a model id.
    """
    return model.split(":")[1] if model.startswith("ft:") and model.count(":") >= 1 else model


def retirement_of(model: str) -> Retirement | None:
    """
    The table's row for ``model``; a fine-tuned model (``ft:<base>:...``) follows the row of its base model.

    :param model: a model id.
    """
    return RETIREMENTS.get(base_model_of(model))


def replacement_of(model: str, today: date) -> str | None:
    """
    The replacement to use on ``today``: the table's, followed while that replacement has shut down itself
    (``chatgpt-4o-latest`` → ``gpt-5.1-chat-latest`` → ``gpt-5.5``); ``None`` when the table names none.

    :param model: a model id.
    :param today: the day to judge by.
    """
    row = retirement_of(model)
    seen = {base_model_of(model)}
    replacement = row.replacement if row else None
    while replacement:
        head = replacement.split()[0]
        after = RETIREMENTS.get(head)
        if after is None or after.shutdown > today or head in seen or after.replacement is None:
            return replacement
        seen.add(head)
        replacement = after.replacement
    return replacement


@dataclass(frozen=True)
class Verdict:
    """
    What is known of one model's shutdown, and where it comes from.

    :param model: the model id.
    :param shutdown: the shutdown date.
    :param replacement: the replacement, when the table knows one and the server is OpenAI's.
    :param source: ``"server"`` (the connection's ``GET /models``) or ``"table"`` (:data:`RETIREMENTS`).
    """

    model: str
    shutdown: date
    replacement: str | None
    source: str


def verdict_of(
    model: str, *, base_url: str | None, today: date, live: Mapping[str, date | None] | None = None
) -> Verdict | None:
    """
    The shutdown of ``model`` from the merged data: the server's ``shutdown_date`` (``live``: model id → date or
    ``None``) wins when it gives one; otherwise the table, at OpenAI's base URL only. A fine-tuned model follows
    its own server date, else its base model's. The replacement comes from the table, at OpenAI's base URL only
    (``GET /models`` names none, and OpenAI's advice may not fit another server's models).

    :param model: a model id.
    :param base_url: the connection's base URL.
    :param today: the day to judge by (for the replacement chain).
    :param live: the server's dates, or ``None`` when the server published nothing.
    """
    replacement = replacement_of(model, today) if is_openai(base_url) else None
    for name in dict.fromkeys((model, base_model_of(model))):
        published = (live or {}).get(name)
        if published is not None:
            return Verdict(model, published, replacement, "server")
    row = retirement_of(model)
    if row is None or not is_openai(base_url):
        return None
    return Verdict(model, row.shutdown, replacement, "table")


def _warning(what: str, shutdown: date, replacement: str | None, today: date) -> str:
    days = (shutdown - today).days
    when = "tomorrow" if days == 1 else f"in {days} days"
    advice = f"; the recommended replacement is {replacement}" if replacement else ""
    return f"{what} shuts down on {shutdown.isoformat()} ({when}){advice}"


def _origin(verdict: Verdict) -> str:
    if verdict.source == "server":
        return "per the server's GET /models"
    return f"per the provider's retirement table, reviewed on {REVIEWED_ON.isoformat()}"


def check_model(
    model: str | None,
    *,
    base_url: str | None,
    today: date | None = None,
    live: Mapping[str, date | None] | None = None,
) -> str | None:
    """
    Check ``model`` against the merged shutdown data (the server's ``GET /models`` first, the table second),
    before any request.

    A model past its shutdown date raises :class:`~airflow_provider_openai_fusion.exceptions.ModelRetiredError`
    (date and replacement); within :data:`WARNING_DAYS` before it, the warning text (model, date, replacement,
    source) is returned for the task log. The table counts at OpenAI's base URL only; a date the server itself
    publishes counts anywhere. For a model nobody dates (or no model), returns ``None``.

    :param model: the model the task names; ``None`` when it leaves it to the server.
    :param base_url: the connection's base URL.
    :param today: the day to judge by; default today in UTC.
    :param live: the server's ``shutdown_date`` per model id (``None`` values: not announced); ``None`` when the
        server published nothing.
    """
    if not model:
        return None
    today = today or today_utc()
    verdict = verdict_of(model, base_url=base_url, today=today, live=live)
    if verdict is None:
        return None
    where = "at OpenAI" if is_openai(base_url) else "at this server"
    if today >= verdict.shutdown:
        from airflow_provider_openai_fusion.exceptions import ModelRetiredError

        raise ModelRetiredError(
            model, verdict.shutdown.isoformat(), verdict.replacement, where=where, origin=_origin(verdict)
        )
    if (verdict.shutdown - today).days <= WARNING_DAYS:
        base = base_model_of(model)
        tuned = f"fine-tuned from {base}, which it stops with; " if base != model else ""
        what = f"Model {model} ({tuned}{where}, {_origin(verdict)})"
        return _warning(what, verdict.shutdown, verdict.replacement, today)
    return None


def check_fine_tuning(*, base_url: str | None, today: date | None = None, model: str | None = None) -> str | None:
    """
    Check that a new fine-tuning job may still be created at OpenAI, before any request.

    At OpenAI's base URL: before :data:`FINE_TUNING_CUTOFF`, returns the text to log (the cut-off, the days left,
    and when ``model`` is in the table, the day the models fine-tuned from it stop with it); from that day on,
    raises ``InvalidArgumentError`` for ``action`` with the date. Anywhere else: ``None``.

    :param base_url: the connection's base URL.
    :param today: the day to judge by; default today in UTC.
    :param model: the base model of the job, if known.
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
    row = retirement_of(model) if model else None
    until = f" until their base model shuts down ({model} on {row.shutdown.isoformat()})" if row else ""
    return (
        f"New fine-tuning jobs end at OpenAI on {cutoff} ({left}; self-serve fine-tuning has been "
        f"restricted since 2026-05-07 and 2026-07-02); models already fine-tuned stay usable{until}"
    )


@dataclass(frozen=True)
class EndpointShutdown:
    """
    An endpoint OpenAI shuts down with every model it takes.

    :param endpoint: the path, e.g. ``/audio/speech``.
    :param shutdown: the day it stops.
    :param models: the models that stop with it.
    :param instead: what to do instead.
    :param argument: the task argument to name when refusing.
    """

    endpoint: str
    shutdown: date
    models: tuple[str, ...]
    instead: str
    argument: str


ENDPOINT_SHUTDOWNS: Mapping[str, EndpointShutdown] = MappingProxyType(
    {
        "speech": EndpointShutdown(
            "/audio/speech",
            date(2027, 1, 6),
            ("tts-1", "tts-1-hd", "gpt-4o-mini-tts"),
            "no model replaces them on /audio/speech: generate speech with the Realtime API "
            "(gpt-realtime-2.1-mini) or point the connection at a compatible speech server",
            "operation",
        ),
        "translate": EndpointShutdown(
            "/audio/translations",
            date(2027, 2, 26),
            ("whisper-1",),
            "no model replaces it: use via='transcribe+text' (a current transcription model, then a text model "
            "you name translates the transcript; two paid calls)",
            "via",
        ),
    }
)


def check_endpoint(name: str, *, base_url: str | None, today: date | None = None) -> str | None:
    """
    Say, before the call, what stops at OpenAI on an endpoint of :data:`ENDPOINT_SHUTDOWNS`, and when.

    At OpenAI's base URL: before the shutdown, returns the text to log (endpoint, models, date, days left and what
    to do instead); from that day on, raises ``InvalidArgumentError`` naming the argument that chose the endpoint.
    Anywhere else (a compatible server keeps its own endpoints): ``None``.

    :param name: the key in :data:`ENDPOINT_SHUTDOWNS` (``speech``, ``translate``).
    :param base_url: the connection's base URL.
    :param today: the day to judge by; default today in UTC.
    """
    if not is_openai(base_url):
        return None
    ending = ENDPOINT_SHUTDOWNS[name]
    today = today or today_utc()
    models = ", ".join(ending.models)
    when = ending.shutdown.isoformat()
    if today >= ending.shutdown:
        from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

        raise InvalidArgumentError(
            ending.argument, f"OpenAI shut down {ending.endpoint} ({models}) on {when}; {ending.instead}"
        )
    days = (ending.shutdown - today).days
    left = "1 day left" if days == 1 else f"{days} days left"
    return f"OpenAI shuts down {ending.endpoint} ({models}) on {when} ({left}); {ending.instead}"


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
    replacement = replacement_of(model, today)
    if today >= shutdown:
        advice = f"; the recommended replacement is {replacement}" if replacement else ""
        return f"Model {model} was shut down on {shutdown.isoformat()}{advice}"
    if (shutdown - today).days <= WARNING_DAYS:
        return _warning(f"Model {model}", shutdown, replacement, today)
    return None

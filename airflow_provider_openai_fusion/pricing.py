"""
What OpenAI charges, as data: per model, USD per 1M input, cached-input and output tokens, per image, per audio
minute and per training token, plus the Batch discount and the flex and priority multipliers.

Pure Python (no Airflow, pydantic or httpx), so a DAG file or an operator may import it for nothing.

- :data:`PRICES` maps a model id to its :class:`Price`; a dated snapshot (``gpt-5.4-2026-03-05``) and a fine-tuned
  model (``ft:<base>:...``) take the row of their base model (:func:`price_of`).
- A model with no row has no price: its cost is ``None``, never 0 (a free server is declared free with the
  connection's ``prices`` extra, not guessed).
- :func:`cost_usd` prices one usage: tokens (cached input at the cached rate), images, audio minutes or training
  tokens, at a service tier (``default``, ``flex``, ``priority``, ``batch``).
- :func:`parse_prices` reads the connection's ``prices`` extra (JSON: model → prices), which wins over the table:
  negotiated rates, Azure, a self-hosted server that is free.

Sources (read on :data:`PRICES_REVIEWED_ON`): OpenAI's pricing page, https://developers.openai.com/api/docs/pricing,
through its dated copy of 2026-11-05 (:data:`_PRICING_COPY`) and OpenAI's model pages (``.../models/<id>``), which
state each model's text-token prices, the Batch and flex rate (50 % of Standard), the priority ("Fast mode") rate
and the long-context rule; each row names its source. Prices change often: review them with the retirement table.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from functools import lru_cache
from types import MappingProxyType
from typing import Any

PRICES_REVIEWED_ON = date(2026, 12, 7)
TIERS = ("default", "flex", "priority", "batch")
BATCH_DISCOUNT = 0.5
"""The Batch API bills inputs and outputs at half the Standard rate."""
FLEX_MULTIPLIER = 0.5
"""Flex processing bills at the Batch rate: half the Standard rate."""
PRIORITY_MULTIPLIER = 2.0
"""Priority processing ("Fast mode" on the GPT-6 model pages) bills twice the Standard rate unless a row says else."""
LONG_CONTEXT_TOKENS = 272_000
"""Above this many input tokens, GPT-5.4 and later bill the whole request at 2x input and 1.5x output."""
PER_MILLION = 1_000_000

_PRICING_PAGE = "https://developers.openai.com/api/docs/pricing"
_PRICING_COPY = (
    "https://raw.githubusercontent.com/api-evangelist/posts/main/_posts/"
    "2026-11-06-openai-api-pricing-what-every-model-costs-per-million-tokens.md"
)
_MODELS = "https://developers.openai.com/api/docs/models/"
_PRIORITY_PAGE = "https://openai.com/api-priority-processing/"
_GPT_6_1_TERRA = "https://apidog.com/blog/gpt-6-1-terra-pricing/"
_GPT_5_5 = "https://www.morphllm.com/openai-api-pricing"
_WHISPER = "https://huggingface.co/spaces/SteveDigital/free-mp3-to-text-using-openai-whisper/discussions/1"


@dataclass(frozen=True)
class Price:
    """
    One model's prices in USD. Fields left ``None`` are not billed that way (or not known).

    :param input: per 1M input tokens.
    :param cached_input: per 1M cached input tokens (cache hits); ``None`` bills them as input.
    :param output: per 1M output tokens (reasoning tokens included).
    :param per_image: per image generated or edited, when the answer gives no token counts.
    :param per_audio_minute: per minute of audio transcribed or translated.
    :param per_training_token: per 1M trained tokens (fine-tuning).
    :param priority: the priority-tier multiplier of this model.
    :param long_context: whether the 272K long-context rule applies.
    :param max_output_tokens: the most the model may generate, for a worst-case estimate with no output cap.
    :param source: where the row comes from.
    """

    input: float | None = None
    cached_input: float | None = None
    output: float | None = None
    per_image: float | None = None
    per_audio_minute: float | None = None
    per_training_token: float | None = None
    priority: float = PRIORITY_MULTIPLIER
    long_context: bool = False
    max_output_tokens: int | None = None
    source: str = ""


def _text(inp: float, cached: float | None, out: float, source: str, **more: Any) -> Price:
    return Price(input=inp, cached_input=cached, output=out, source=source, **more)


_FRONTIER = {"long_context": True, "max_output_tokens": 128_000}

PRICES: Mapping[str, Price] = MappingProxyType(
    {
        # GPT-6 and GPT-5.6 (model pages; Batch and flex 50 %, Fast mode 2x, >272K input 2x/1.5x).
        "gpt-6.2-sol": _text(2.00, 0.10, 10.00, _MODELS + "gpt-6.2-sol", **_FRONTIER),
        "gpt-6.1-terra": _text(1.00, 0.05, 5.00, _GPT_6_1_TERRA, **_FRONTIER),
        "gpt-6-luna": _text(0.10, 0.01, 0.50, _MODELS + "gpt-6-luna", **_FRONTIER),
        "gpt-5.6-sol": _text(4.00, 0.40, 20.00, _MODELS + "gpt-5.6-sol", **_FRONTIER),
        "gpt-5.6-terra": _text(2.00, 0.20, 12.00, _MODELS + "gpt-5.6-luna", **_FRONTIER),
        "gpt-5.6-luna": _text(0.20, 0.02, 1.20, _MODELS + "gpt-5.6-luna", **_FRONTIER),
        # GPT-5.5 and GPT-5.4 (pricing page of 2026-06, priority page: GPT-5.5 priority is 2.5x).
        "gpt-5.5": _text(5.00, 0.50, 30.00, _GPT_5_5, priority=2.5, **_FRONTIER),
        "gpt-5.4": _text(2.50, 0.25, 15.00, _PRIORITY_PAGE, **_FRONTIER),
        "gpt-5.4-mini": _text(0.75, 0.075, 4.50, _PRIORITY_PAGE, **_FRONTIER),
        "gpt-5.4-nano": _text(0.20, 0.02, 1.25, _GPT_5_5, **_FRONTIER),
        # Embeddings (input only) and moderation (free).
        "text-embedding-3-small": Price(input=0.02, source=_MODELS + "text-embedding-3-large"),
        "text-embedding-3-large": Price(input=0.13, source=_MODELS + "text-embedding-3-large"),
        "omni-moderation-latest": Price(input=0.0, output=0.0, source=_PRICING_COPY),
        # Audio by the minute.
        "gpt-transcribe": Price(per_audio_minute=0.0045, source=_MODELS + "gpt-transcribe"),
        "whisper-1": Price(per_audio_minute=0.006, source=_WHISPER),
    }
)
"""The built-in price table; every row was read on :data:`PRICES_REVIEWED_ON` at the source it names."""

_SNAPSHOT = re.compile(r"^(?P<base>.+?)-\d{4}-\d{2}-\d{2}$")
_FIELDS = {field.name for field in fields(Price)} - {"source"}


@lru_cache(maxsize=1024)
def base_model(model: str) -> str:
    """
    The model a price row is kept under: a fine-tuned model's base, a dated snapshot's alias.

    :param model: a model id, e.g. ``ft:gpt-6-luna:acme::abc`` or ``gpt-5.4-2026-03-05``.
    """
    if model.startswith("ft:"):
        model = model.split(":")[1] if model.count(":") >= 1 else model
    match = _SNAPSHOT.match(model)
    return match.group("base") if match else model


def price_of(model: str | None, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """
    The price row of ``model``: the connection's row for it, else the connection's ``"*"`` row, else the table
    (exact id, then its base model); ``None`` when unknown.

    :param model: the model id as the answer names it.
    :param overrides: the connection's ``prices`` extra, parsed.
    """
    if not model:
        return None
    if overrides:
        for name in (model, base_model(model)):
            if name in overrides:
                return overrides[name]
        if "*" in overrides:
            return overrides["*"]
    return PRICES.get(model) or PRICES.get(base_model(model))


def tier_multiplier(price: Price, tier: str | None) -> float:
    """
    What a service tier multiplies the Standard rate by: flex and batch 0.5, priority the row's multiplier,
    anything else (``default``, ``auto``, ``scale``, ``None``) 1.

    :param price: the model's row.
    :param tier: the tier the answer reports (or ``batch``).
    """
    if tier == "batch":
        return BATCH_DISCOUNT
    if tier == "flex":
        return FLEX_MULTIPLIER
    if tier == "priority":
        return price.priority
    return 1.0


def _per_million(rate: float | None, tokens: int) -> float | None:
    if not tokens:
        return 0.0
    return None if rate is None else rate * tokens / PER_MILLION


def cost_usd(
    price: Price | None,
    *,
    input_tokens: int = 0,
    cached_tokens: int = 0,
    output_tokens: int = 0,
    images: int = 0,
    audio_minutes: float = 0.0,
    trained_tokens: int = 0,
    tier: str | None = None,
) -> float | None:
    """
    The cost of one usage in USD, or ``None`` when a billed quantity has no known rate.

    Input tokens include the cached ones (as the API counts them); those are billed at the cached rate. Above
    :data:`LONG_CONTEXT_TOKENS` input tokens a long-context row bills 2x input and 1.5x output. Images count only
    when no tokens were given (token-billed image models report tokens). The tier multiplier applies to all of it.

    :param price: the model's row (``None``: unknown).
    :param input_tokens: input tokens, cached ones included.
    :param cached_tokens: of those, the cached ones.
    :param output_tokens: output tokens, reasoning included.
    :param images: images made, for a per-image price.
    :param audio_minutes: minutes of audio.
    :param trained_tokens: tokens trained on (fine-tuning).
    :param tier: the service tier billed (``default``, ``flex``, ``priority``, ``batch``).
    """
    if price is None:
        return None
    cached = min(max(cached_tokens, 0), input_tokens)
    long = price.long_context and input_tokens > LONG_CONTEXT_TOKENS
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    parts = [
        _per_million(price.input, input_tokens - cached),
        _per_million(cached_rate, cached),
        _per_million(price.output, output_tokens),
        _per_million(price.per_training_token, trained_tokens),
    ]
    if long:
        parts = [None if p is None else p * factor for p, factor in zip(parts, (2.0, 2.0, 1.5, 1.0), strict=True)]
    if images and not (input_tokens or output_tokens):
        parts.append(None if price.per_image is None else price.per_image * images)
    if audio_minutes:
        parts.append(None if price.per_audio_minute is None else price.per_audio_minute * audio_minutes)
    if any(part is None for part in parts):
        return None
    return sum(parts) * tier_multiplier(price, tier)  # type: ignore[arg-type]


def _rate(model: str, name: str, value: Any) -> float | int | bool:
    if name == "long_context":
        if not isinstance(value, bool):
            raise ValueError(f"{model}.{name} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{model}.{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{model}.{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{model}.{name} must be a number >= 0, got {value!r}")
    return int(number) if name == "max_output_tokens" else number


def parse_prices(value: Any) -> Mapping[str, Price]:
    """
    Read the connection's ``prices`` extra: a JSON object (or its text) of model → ``{"input", "cached_input",
    "output", "per_image", "per_audio_minute", "per_training_token", "priority", "long_context",
    "max_output_tokens"}`` (USD, per 1M tokens where tokens). A model the table knows keeps its other fields; a
    new model gets only what is given. ``{"*": {...}}`` prices every model not named (e.g. a free local server:
    ``{"*": {"input": 0, "output": 0}}``).

    :param value: the extra's value.
    :raises ValueError: naming the model and field at fault.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"is not JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"must be a JSON object of model -> prices, got {type(value).__name__}")
    parsed: dict[str, Price] = {}
    for model, rates in value.items():
        if not isinstance(rates, Mapping):
            raise ValueError(f"{model} must map to an object of prices, got {type(rates).__name__}")
        unknown = sorted(set(rates) - _FIELDS)
        if unknown:
            raise ValueError(f"{model}.{unknown[0]} is not a price field; the fields are {', '.join(sorted(_FIELDS))}")
        changes: dict[str, Any] = {name: _rate(model, name, rate) for name, rate in rates.items() if rate is not None}
        start = PRICES.get(model, Price())
        parsed[model] = replace(start, **changes, source="connection extra 'prices'")
    return MappingProxyType(parsed)

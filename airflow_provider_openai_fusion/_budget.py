"""
Budgets: the worst-case cost of a call, estimated before it is sent, checked against ``max_cost_usd`` (this task)
and ``max_run_cost_usd`` (this DAG run).

The rules, documented in ``docs/cost.md``:

- **Input tokens**: exact where the API counts them (``POST /responses/input_tokens``, and the batching of the
  embeddings operator); otherwise one token per :data:`BYTES_PER_TOKEN` bytes of the request's JSON (UTF-8), which
  over-counts English text (about 4 bytes a token) and is close for code and non-Latin scripts.
- **Output tokens**: the request's cap (``max_completion_tokens`` / ``max_tokens`` / ``max_output_tokens``, times
  ``n``); with no cap, the model's maximum output, and the error says which argument would lower it.
- **Images**: ``n`` images at the model's per-image price. **Audio**: one minute per :data:`AUDIO_BYTES_PER_MINUTE`
  bytes of the file (16 kbit/s, the lowest common speech bitrate). **Batch**: every request, at the Batch discount.
- Everything at the tier asked for (flex half, priority the model's multiplier, ``auto`` as ``default``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_openai_fusion.exceptions import BudgetExceededError, InvalidArgumentError
from airflow_provider_openai_fusion.pricing import Price, cost_usd, price_of

BYTES_PER_TOKEN = 3
AUDIO_BYTES_PER_MINUTE = 120_000
COMPLETIONS_DEFAULT_MAX_TOKENS = 16
"""The legacy /completions API generates at most 16 tokens unless ``max_tokens`` says otherwise."""


@dataclass(frozen=True)
class Estimate:
    """
    The worst case of one call (or of the requests of one model in a batch), in billed quantities.

    :param model: the model the call names.
    :param input_tokens: input tokens (exact or by the bytes rule).
    :param output_tokens: the output cap, or ``None`` for "no cap: the model's maximum".
    :param images: images asked for.
    :param audio_minutes: minutes of audio.
    :param tier: the tier it would be billed at.
    :param cap_argument: the argument that caps the output, named in the error when no cap was set.
    :param calls: how many requests (``n`` of a chat, requests of a batch): the model maximum counts per request.
    :param rule: how the input was counted, for the error message.
    """

    model: str | None
    input_tokens: int = 0
    output_tokens: int | None = 0
    images: int = 0
    audio_minutes: float = 0.0
    tier: str | None = None
    cap_argument: str = ""
    calls: int = 1
    rule: str = ""


def text_tokens(value: Any) -> int:
    """
    Input tokens by the bytes rule: the value's JSON, UTF-8, one token per :data:`BYTES_PER_TOKEN` bytes.

    :param value: text or any JSON value.
    """
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def _tier(body: Mapping[str, Any]) -> str | None:
    tier = body.get("service_tier")
    return tier if tier in ("flex", "priority") else "default"


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def chat(body: Mapping[str, Any]) -> Estimate:
    """
    A chat completion (or an edit): the request's bytes, and ``max_completion_tokens`` (or ``max_tokens``) x ``n``.

    :param body: the validated request body.
    """
    n = _positive(body.get("n")) or 1
    cap = _positive(body.get("max_completion_tokens")) or _positive(body.get("max_tokens"))
    return Estimate(
        model=body.get("model"),
        input_tokens=text_tokens(body),
        output_tokens=None if cap is None else cap * n,
        tier=_tier(body),
        cap_argument="advanced.max_completion_tokens",
        calls=n,
        rule=f"input estimated as 1 token per {BYTES_PER_TOKEN} bytes of the request",
    )


def completion(body: Mapping[str, Any]) -> Estimate:
    """
    A legacy completion: the request's bytes, and ``max_tokens`` (the API's default is 16) x ``best_of`` or ``n``.

    :param body: the validated request body.
    """
    n = max(_positive(body.get("n")) or 1, _positive(body.get("best_of")) or 1)
    cap = _positive(body.get("max_tokens")) or COMPLETIONS_DEFAULT_MAX_TOKENS
    rule = f"input estimated as 1 token per {BYTES_PER_TOKEN} bytes of the request"
    return Estimate(model=body.get("model"), input_tokens=text_tokens(body), output_tokens=cap * n, rule=rule)


def response(body: Mapping[str, Any], counted: int | None) -> Estimate:
    """
    A model response: the input as ``POST /responses/input_tokens`` counted it, and ``max_output_tokens``.

    :param body: the validated request body.
    :param counted: the API's count of the input tokens, or ``None`` to use the bytes rule.
    """
    rule = "input counted by POST /responses/input_tokens" if counted is not None else ""
    return Estimate(
        model=body.get("model"),
        input_tokens=counted if counted is not None else text_tokens(body),
        output_tokens=_positive(body.get("max_output_tokens")),
        tier=_tier(body),
        cap_argument="max_output_tokens",
        rule=rule or f"input estimated as 1 token per {BYTES_PER_TOKEN} bytes of the request",
    )


def embeddings(model: str, tokens: int, calls: int) -> Estimate:
    """
    Embeddings: the tokens the operator's batching estimated (no output).

    :param model: the embedding model.
    :param tokens: the estimated input tokens of every request.
    :param calls: the requests.
    """
    return Estimate(model=model, input_tokens=tokens, calls=calls, rule="input tokens as the batching estimated them")


def images(model: str | None, n: int) -> Estimate:
    """
    Images: ``n`` at the model's per-image price.

    :param model: the image model.
    :param n: images asked for.
    """
    return Estimate(model=model, images=n, rule=f"{n} image(s) at the per-image price")


def audio(model: str | None, size_bytes: int) -> Estimate:
    """
    A transcription or translation: the file's duration at worst, from its size.

    :param model: the audio model.
    :param size_bytes: the file's size.
    """
    minutes = size_bytes / AUDIO_BYTES_PER_MINUTE
    rule = f"duration estimated as 1 minute per {AUDIO_BYTES_PER_MINUTE:,} bytes (16 kbit/s)"
    return Estimate(model=model, audio_minutes=minutes, rule=rule)


def batch(bodies: Sequence[Mapping[str, Any]], endpoint: str) -> list[Estimate]:
    """
    A batch: each request as its endpoint estimates it, at the Batch discount, summed per model.

    :param bodies: the request bodies.
    :param endpoint: the batch's endpoint, e.g. ``/v1/chat/completions``.
    """
    per_model: dict[Any, list[Estimate]] = {}
    for body in bodies:
        if endpoint.endswith("/chat/completions"):
            one = chat(body)
        elif endpoint.endswith("/completions"):
            one = completion(body)
        elif endpoint.endswith("/responses"):
            one = response(body, None)
        else:
            one = Estimate(model=body.get("model"), input_tokens=text_tokens(body.get("input")))
        per_model.setdefault(one.model, []).append(one)
    result = []
    for model, ones in per_model.items():
        capped = all(one.output_tokens is not None for one in ones)
        result.append(
            Estimate(
                model=model,
                input_tokens=sum(one.input_tokens for one in ones),
                output_tokens=sum(one.output_tokens or 0 for one in ones) if capped else None,
                tier="batch",
                cap_argument=ones[0].cap_argument.replace("advanced.", "each request's "),
                calls=len(ones),
                rule=f"{len(ones)} request(s); {ones[0].rule}",
            )
        )
    return result


def batch_files(paths: Sequence[Any], endpoint: str) -> list[Estimate]:
    """
    A batch from its input files (JSON lines of ``{"custom_id", "method", "url", "body"}``), read line by line.

    :param paths: the batch input files.
    :param endpoint: the batch's endpoint.
    """
    bodies = []
    for path in paths:
        with open(path, encoding="utf-8") as lines:
            bodies += [json.loads(line).get("body") or {} for line in lines if line.strip()]
    return batch(bodies, endpoint)


def price_estimate(estimate: Estimate, prices: Mapping[str, Price] | None, argument: str) -> tuple[float, str]:
    """
    The worst-case cost of ``estimate`` in USD and the explanation that goes with it.

    :param estimate: the estimate.
    :param prices: the connection's price overrides.
    :param argument: the budget argument, for the error when the cost cannot be known.
    :raises InvalidArgumentError: when no price is known for the model, or it has no output maximum and no cap.
    """
    price = price_of(estimate.model, prices)
    if price is None:
        raise InvalidArgumentError(
            argument,
            f"cannot be checked: no price is known for model {estimate.model!r}; add it to the connection's "
            '\'prices\' extra (JSON: model -> {"input", "output", ...} in USD per 1M tokens)',
        )
    output, note = estimate.output_tokens, ""
    if output is None:
        if price.max_output_tokens is None:
            raise InvalidArgumentError(
                argument,
                f"cannot be checked: no output cap is set and the maximum output of model {estimate.model!r} is "
                f"unknown; set {estimate.cap_argument or 'an output cap'}",
            )
        output = price.max_output_tokens * estimate.calls
        note = (
            f" No output cap is set, so the model's maximum of {price.max_output_tokens:,} output tokens per "
            f"request is assumed: set {estimate.cap_argument} to a realistic cap to lower the estimate."
        )
    usd = cost_usd(
        price,
        input_tokens=estimate.input_tokens,
        output_tokens=output,
        images=estimate.images,
        audio_minutes=estimate.audio_minutes,
        tier=estimate.tier,
    )
    if usd is None:
        raise InvalidArgumentError(
            argument,
            f"cannot be checked: no price is known for model {estimate.model!r}; add it to the connection's "
            '\'prices\' extra (JSON: model -> {"input", "output", ...} in USD per 1M tokens)',
        )
    detail = (
        f"Estimate for {estimate.model}: {estimate.input_tokens:,} input tokens ({estimate.rule}), "
        f"{output:,} output tokens"
    )
    if estimate.images:
        detail = f"Estimate for {estimate.model}: {estimate.rule}"
    elif estimate.audio_minutes:
        detail = f"Estimate for {estimate.model}: {estimate.audio_minutes:.1f} minutes ({estimate.rule})"
    return usd, f"{detail}, tier {estimate.tier or 'default'}.{note}"


def check(
    estimates: Sequence[Estimate],
    prices: Mapping[str, Price] | None,
    max_cost_usd: float | None,
    max_run_cost_usd: float | None,
    spent: tuple[float, int] | None,
) -> float:
    """
    Refuse a call whose worst case passes a budget; return the estimate.

    :param estimates: the call's estimates (several for a batch of several models).
    :param prices: the connection's price overrides.
    :param max_cost_usd: the task's budget, or ``None``.
    :param max_run_cost_usd: the DAG run's budget, or ``None``.
    :param spent: what the run has recorded (known USD, records of unknown cost), for ``max_run_cost_usd``.
    :raises BudgetExceededError: naming the estimate, the budget and the argument.
    """
    argument = "max_cost_usd" if max_cost_usd is not None else "max_run_cost_usd"
    total, details = 0.0, []
    for estimate in estimates:
        usd, detail = price_estimate(estimate, prices, argument)
        total += usd
        details.append(detail)
    if max_cost_usd is not None and total > max_cost_usd:
        raise BudgetExceededError("max_cost_usd", total, max_cost_usd, detail=" ".join(details))
    if max_run_cost_usd is not None:
        known, unknown = spent or (0.0, 0)
        if known + total > max_run_cost_usd:
            note = f" ({unknown} earlier record(s) of unknown cost not counted)" if unknown else ""
            raise BudgetExceededError(
                "max_run_cost_usd", total, max_run_cost_usd, spent_usd=known, detail=" ".join(details) + note
            )
    return total

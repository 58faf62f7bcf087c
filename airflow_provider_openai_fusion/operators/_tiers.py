"""
Service tiers and prompt caching on chat completions and model responses: the named arguments, flex processing's
longer timeout, and the one fallback to the default tier when flex has no capacity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from airflow_provider_openai_fusion._http.request import RequestSpec
    from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

SERVICE_TIERS = ("auto", "default", "flex", "priority")
CACHE_RETENTIONS = ("in_memory", "24h")
FLEX_TIMEOUT = 900.0
"""OpenAI recommends a 15-minute client timeout for flex processing, whose answers may be slow."""
FLEX_UNAVAILABLE = "resource_unavailable"


def tier_fields(
    service_tier: str | None, prompt_cache_key: str | None, prompt_cache_retention: str | None, flex_fallback: bool
) -> dict[str, Any]:
    """
    The request fields of the tier and caching arguments, each checked before any request.

    :param service_tier: ``auto``, ``default``, ``flex`` or ``priority``; ``None`` leaves it to the project.
    :param prompt_cache_key: groups requests that share a prompt prefix, for better cache hits.
    :param prompt_cache_retention: ``in_memory`` or ``24h``.
    :param flex_fallback: whether a flex request falls back to the default tier (needs ``service_tier="flex"``).
    """
    if service_tier is not None and service_tier not in SERVICE_TIERS:
        raise InvalidArgumentError("service_tier", f"must be one of {', '.join(SERVICE_TIERS)}, got {service_tier!r}")
    if prompt_cache_retention is not None and prompt_cache_retention not in CACHE_RETENTIONS:
        raise InvalidArgumentError(
            "prompt_cache_retention", f"must be one of {', '.join(CACHE_RETENTIONS)}, got {prompt_cache_retention!r}"
        )
    if prompt_cache_key is not None and (not isinstance(prompt_cache_key, str) or not prompt_cache_key.strip()):
        raise InvalidArgumentError("prompt_cache_key", "must be a non-empty text")
    if flex_fallback and service_tier != "flex":
        raise InvalidArgumentError("flex_fallback", f"needs service_tier='flex', got service_tier={service_tier!r}")
    named = {
        "service_tier": service_tier,
        "prompt_cache_key": prompt_cache_key,
        "prompt_cache_retention": prompt_cache_retention,
    }
    return {name: value for name, value in named.items() if value is not None}


def _flex_unavailable(exc: Exception) -> bool:
    from airflow_provider_openai_fusion.exceptions import APITimeoutError, RateLimitError

    return isinstance(exc, APITimeoutError) or (isinstance(exc, RateLimitError) and exc.code == FLEX_UNAVAILABLE)


def send_tiered(
    operator: OpenAIFusionBaseOperator,
    build: Callable[[Mapping[str, Any]], RequestSpec],
    body: Mapping[str, Any],
    flex_fallback: bool,
    estimator: Callable[..., Any],
    *estimator_args: Any,
) -> Any:
    """
    Send ``build(body)``. On flex, the timeout becomes 15 minutes unless the connection or hook set one; with
    ``flex_fallback``, a 429 ``resource_unavailable`` (after the connection's retries) or a timeout sends the request
    once more on the default tier, after checking the budgets again at that tier's price. Each answer is priced at
    the tier it reports.

    :param operator: the operator sending (its hook, log and budgets).
    :param build: the call builder, e.g. ``chat.create_chat_completion``.
    :param body: the validated request body.
    :param flex_fallback: whether to fall back to the default tier.
    :param estimator: the budget estimator of the call, applied to the fallback body first.
    :param estimator_args: its arguments after the body.
    """
    if body.get("service_tier") == "flex" and operator.hook.default_timeout(FLEX_TIMEOUT):
        operator.log.info(
            "Flex processing: the client timeout is %.0f s (set the connection's timeout to change it)", FLEX_TIMEOUT
        )
    try:
        return operator.hook.request(build(body))
    except Exception as exc:
        if not (flex_fallback and body.get("service_tier") == "flex" and _flex_unavailable(exc)):
            raise
        operator.log.warning("Flex processing unavailable (%s); sending the request once on the default tier", exc)
    fallback = {**body, "service_tier": "default"}
    operator.check_budget(estimator, fallback, *estimator_args)
    return operator.hook.request(build(fallback))

"""The retry policy as pure functions: what is retryable, ``Retry-After``, backoff with jitter, one call's state."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from airflow_provider_openai_fusion._http.errors import error_from_response
from airflow_provider_openai_fusion.exceptions import APIConnectionError, APIError, APITimeoutError

INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 60.0


def is_retryable_status(status_code: int, headers: Mapping[str, str]) -> bool:
    """
    Decide whether an error answer is worth retrying; an ``x-should-retry`` header wins.

    :param status_code: the HTTP status.
    :param headers: the response headers (case-insensitive mapping).
    """
    should_retry = headers.get("x-should-retry")
    if should_retry == "true":
        return True
    if should_retry == "false":
        return False
    return status_code in (408, 409, 429) or status_code >= 500


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """
    Read how long the server asks us to wait: ``retry-after-ms``, then ``Retry-After`` in seconds or as an
    HTTP date. Values that are missing, negative or above :data:`MAX_RETRY_AFTER` give ``None`` (use backoff).

    :param headers: the response headers (case-insensitive mapping).
    :param now: the current Unix time, for HTTP dates; defaults to the clock.
    """
    delay: float | None = None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            delay = float(ms) / 1000
        except ValueError:
            delay = None
    if delay is None and (value := headers.get("retry-after")) is not None:
        try:
            delay = float(value)
        except ValueError:
            parsed = _http_date(value)
            delay = parsed - (time.time() if now is None else now) if parsed is not None else None
    if delay is None or not math.isfinite(delay) or delay < 0 or delay > MAX_RETRY_AFTER:
        return None
    return delay


def _http_date(value: str) -> float | None:
    """An HTTP date as Unix seconds, or ``None`` for anything else (a 32nd of January, hour 99, year 10**20)."""
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def backoff_seconds(retries_done: int, rng: random.Random | None = None) -> float:
    """
    Exponential backoff with jitter: ``min(0.5 * 2**n, 8)`` seconds, reduced by up to 25 % at random.

    :param retries_done: how many retries happened before this one (0 for the first).
    :param rng: a random generator, for reproducible tests.
    """
    base = min(INITIAL_BACKOFF * 2**retries_done, MAX_BACKOFF)
    return cast("float", base * (1 - 0.25 * (rng or random).random()))


@dataclass
class RetryState:
    """
    The retry decision of one call, fed with each attempt's outcome by a driver.

    :param max_retries: retries allowed after the first attempt.
    :param rng: a random generator for the jitter.
    """

    max_retries: int
    rng: random.Random | None = None
    retries_done: int = 0

    def after_status(self, status_code: int, headers: Mapping[str, str], body: bytes) -> float:
        """
        Decide after an error answer: return the delay before the next attempt, or raise the mapped error.

        :param status_code: the HTTP status (400 or above).
        :param headers: the response headers.
        :param body: the response body (already redacted).
        """
        error = error_from_response(status_code, headers, body)
        if not is_retryable_status(status_code, headers):
            raise error
        delay = retry_after_seconds(headers)
        return self._next(error, backoff_seconds(self.retries_done, self.rng) if delay is None else delay)

    def after_transport_error(self, exc: Exception, *, timed_out: bool, text: str) -> float:
        """
        Decide after a transport failure: return the delay before the next attempt, or raise a typed error.

        :param exc: the transport exception.
        :param timed_out: whether it was a timeout.
        :param text: what to say about it (the exception's type and text, with the key replaced).
        """
        cls = APITimeoutError if timed_out else APIConnectionError
        error = cls(f"{'request timed out' if timed_out else 'connection error'}: {text}")
        error.__suppress_context__ = True  # the transport's own text may hold header values: never chained
        return self._next(error, backoff_seconds(self.retries_done, self.rng))

    def _next(self, error: APIError, delay: float) -> float:
        if self.retries_done >= self.max_retries:
            raise error
        self.retries_done += 1
        return delay

"""
OpenTelemetry for each API call, after the GenAI semantic conventions: a client span per call (child of whatever
span is current: Airflow's task span when Airflow's tracing is on), retries as span events, and the metrics
``gen_ai.client.token.usage`` and ``gen_ai.client.operation.duration``.

Only ``opentelemetry-api`` is used (Airflow installs it); without a configured SDK every call here is a no-op of
the API's, and nothing is computed for a span that does not record. Prompt and answer content is recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``true`` (the variable OpenTelemetry's own GenAI
instrumentations read), with the API key replaced and at most :data:`MAX_CONTENT_CHARS` characters each.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from airflow_provider_openai_fusion._http.calls import CallRecord, answer_fields, request_fields
from airflow_provider_openai_fusion._http.redaction import redact

SCOPE = "airflow_provider_openai_fusion"
CAPTURE_CONTENT_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
MAX_CONTENT_CHARS = 16_384
CONTENT_FIELDS = ("messages", "input", "prompt", "instructions")
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)


@cache
def _instruments() -> tuple[trace.Tracer, Any, Any]:
    meter = metrics.get_meter(SCOPE)
    tokens = meter.create_histogram(
        "gen_ai.client.token.usage",
        unit="{token}",
        description="Number of input and output tokens used",
        explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS),
    )
    duration = meter.create_histogram(
        "gen_ai.client.operation.duration",
        unit="s",
        description="GenAI operation duration",
        explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
    )
    return trace.get_tracer(SCOPE), tokens, duration


NO_SDK = frozenset(("ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"))
"""The providers of ``opentelemetry-api`` alone: with these, spans and metrics go nowhere."""


def sdk_installed() -> bool:
    """Whether an OpenTelemetry SDK provider (of traces or metrics) is installed: else calls skip telemetry."""
    tracer, meter = trace.get_tracer_provider(), metrics.get_meter_provider()
    return type(tracer).__name__ not in NO_SDK or type(meter).__name__ not in NO_SDK


def capture_content() -> bool:
    """Whether prompt and answer content go into spans (off unless the variable says ``true``)."""
    return os.environ.get(CAPTURE_CONTENT_VARIABLE, "").strip().lower() == "true"


@cache
def _server(base_url: str) -> dict[str, Any]:
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname or "", "server.port": port}


def _content(value: Any, secret: str) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return str(redact(text, secret))[:MAX_CONTENT_CHARS]


def _answer_content(body: Mapping[str, Any]) -> Any:
    for name in ("choices", "output", "data"):
        if name in body:
            return body[name]
    return None


class CallSpan:
    """
    The span of one call while it runs; :meth:`answered` or :meth:`failed` ends what it records.

    :param span: the OpenTelemetry span.
    :param request: :func:`~airflow_provider_openai_fusion._http.calls.request_fields` of the call.
    :param base: the metric attributes known before the answer; ``None`` to keep the record only (no SDK).
    """

    def __init__(self, span: trace.Span, request: dict[str, Any], base: dict[str, Any] | None) -> None:
        self.span = span
        self.request = request
        self.base = base
        self.started = time.monotonic()
        self.record: CallRecord | None = None

    def answered(self, status_code: int, headers: Mapping[str, str], body: Any, request_body: Any, secret: str) -> None:
        """
        Record the answer: its status, ids, model and usage, on the span, the metrics and :attr:`record`.

        :param status_code: the HTTP status.
        :param headers: the answer's headers (key redacted).
        :param body: the decoded answer (a dict for JSON objects; anything else records status only).
        :param request_body: the request's JSON body or form fields.
        :param secret: the API key, replaced in captured content.
        """
        fields = answer_fields(self.request["method"], request_body, status_code, headers, body)
        read = self.request["read"] + fields.pop("read", ())
        self.record = CallRecord(**{**self.request, **fields, "read": read})
        if self.base is None:
            return
        _, tokens, duration = _instruments()
        attributes = dict(self.base)
        if self.record.response_model:
            attributes["gen_ai.response.model"] = self.record.response_model
        duration.record(time.monotonic() - self.started, attributes)
        for kind, name in (("input", "input_tokens"), ("output", "output_tokens")):
            if name in self.record.usage:
                tokens.record(self.record.usage[name], {**attributes, "gen_ai.token.type": kind})
        if not self.span.is_recording():
            return
        self.span.set_attributes(
            {
                name: value
                for name, value in (
                    ("http.response.status_code", status_code),
                    ("gen_ai.response.model", self.record.response_model),
                    ("gen_ai.response.id", self.record.response_id),
                    ("openai.request.id", self.record.request_id),
                    ("openai.response.service_tier", self.record.service_tier),
                    ("gen_ai.usage.input_tokens", self.record.usage.get("input_tokens")),
                    ("gen_ai.usage.output_tokens", self.record.usage.get("output_tokens")),
                    ("gen_ai.usage.cached_tokens", self.record.usage.get("cached_tokens")),
                    ("gen_ai.usage.reasoning_tokens", self.record.usage.get("reasoning_tokens")),
                )
                if value is not None
            }
        )
        if capture_content() and isinstance(body, dict) and (answer := _answer_content(body)) is not None:
            self.span.set_attribute("gen_ai.output.messages", _content(answer, secret))

    def failed(self, exc: BaseException) -> None:
        """
        Record a call that ended in ``exc``: ``error.type`` on the span and the duration metric.

        :param exc: the error.
        """
        error = getattr(exc, "status_code", None) or type(exc).__name__
        self.record = CallRecord(**self.request, error_type=type(exc).__name__)
        if self.base is None:
            return
        _, _, duration = _instruments()
        duration.record(time.monotonic() - self.started, {**self.base, "error.type": str(error)})
        self.span.set_attribute("error.type", str(error))
        self.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


@contextmanager
def call_span(
    method: str,
    path: str,
    json_body: Any,
    form: Any,
    base_url: str,
    secret: str,
    keep: Callable[[CallRecord], None],
    traced: bool = True,
) -> Iterator[CallSpan]:
    """
    Run one call inside its client span; the caller reports the answer with :meth:`CallSpan.answered`. An
    exception ends the span as failed (``error.type``) and propagates. The call's record goes to ``keep``
    however the call ends.

    :param method: the HTTP method.
    :param path: the path relative to the base URL.
    :param json_body: the JSON body.
    :param form: the form fields of a multipart body.
    :param base_url: the connection's base URL (``server.address``, ``server.port``).
    :param secret: the API key, replaced in captured content.
    :param keep: takes the call's record when it ends.
    :param traced: whether to make the span and metrics (an OpenTelemetry SDK is installed), or only the record.
    """
    request = request_fields(method, path, json_body, form)
    if not traced:
        with _kept(CallSpan(trace.INVALID_SPAN, request, None), keep) as call:
            yield call
        return
    base: dict[str, Any] = {
        "gen_ai.operation.name": request["operation"],
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        **_server(base_url),
    }
    if request["request_model"]:
        base["gen_ai.request.model"] = request["request_model"]
    tracer, _, _ = _instruments()
    name = f"{request['operation']} {request['request_model']}" if request["request_model"] else request["operation"]
    with tracer.start_as_current_span(
        name, kind=SpanKind.CLIENT, record_exception=False, set_status_on_exception=False
    ) as span:
        if span.is_recording():
            span.set_attributes({**base, "http.request.method": method})
            if request["service_tier"]:
                span.set_attribute("openai.request.service_tier", request["service_tier"])
            body = json_body if isinstance(json_body, dict) else {}
            if capture_content() and (content := {k: body[k] for k in CONTENT_FIELDS if k in body}):
                span.set_attribute("gen_ai.input.messages", _content(content, secret))
        with _kept(CallSpan(span, request, base), keep) as call:
            yield call


@contextmanager
def _kept(call: CallSpan, keep: Callable[[CallRecord], None]) -> Iterator[CallSpan]:
    """Mark ``call`` failed on an exception; hand its record to ``keep`` however it ends."""
    try:
        yield call
    except BaseException as exc:
        call.failed(exc)
        raise
    finally:
        if call.record is not None:
            keep(call.record)


def retry_event(reason: str, delay: float, retry: int) -> None:
    """
    Add a ``retry`` event to the current span (the call's), naming why and how long the client waits.

    :param reason: why the attempt failed (key already replaced).
    :param delay: the seconds before the next attempt.
    :param retry: the number of this retry (1 for the first).
    """
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event("retry", {"retry.reason": reason, "retry.delay_s": delay, "retry.number": retry})

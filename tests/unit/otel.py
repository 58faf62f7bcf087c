"""One OpenTelemetry SDK per test process, with in-memory span and metric readers, for the telemetry tests."""

from __future__ import annotations

from functools import cache
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@cache
def sdk() -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    """Install the SDK's tracer and meter providers once (OpenTelemetry takes a global provider only once)."""
    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    assert trace.get_tracer_provider() is tracer_provider, "another tracer provider was installed first"
    return exporter, reader


def points(data: Any, name: str) -> list[Any]:
    """
    The data points of the metric ``name`` in ``data`` (one collection of the reader: with delta temporality, what
    was recorded since the collection before).
    """
    return [
        point
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]

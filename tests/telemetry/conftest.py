"""Fixtures: a fresh metrics provider per test (made current, so the record_* calls of the
code under test land in it) and an in-memory span exporter on the process's provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.core.telemetry import metrics as telemetry_metrics
from app.core.telemetry.tracing import capture_spans


@pytest.fixture
def metrics() -> Iterator[telemetry_metrics.Metrics]:
    """The current metrics for the duration of one test."""
    fresh = telemetry_metrics.Metrics.create(process_collectors=False, shutdown_on_exit=False)
    previous = telemetry_metrics.use_metrics(fresh)
    try:
        yield fresh
    finally:
        telemetry_metrics.use_metrics(previous)
        fresh.shutdown()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span ended during the test."""
    with capture_spans() as exporter:
        yield exporter

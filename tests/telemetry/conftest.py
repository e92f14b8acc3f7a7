"""Fixtures: fresh process metrics per test (``helpers.fresh_metrics``) and an in-memory span
exporter on the process's provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.core.telemetry import metrics as telemetry_metrics
from app.core.telemetry.tracing import capture_spans
from tests.telemetry.helpers import fresh_metrics


@pytest.fixture
def metrics() -> Iterator[telemetry_metrics.Metrics]:
    """The current metrics for the duration of one test."""
    with fresh_metrics() as fresh:
        yield fresh


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span ended during the test."""
    with capture_spans() as exporter:
        yield exporter

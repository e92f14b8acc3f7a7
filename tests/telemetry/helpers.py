"""Fresh process metrics for a test, and reading the rendered Prometheus text back, as a
scraper would."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from app.core.telemetry import metrics as telemetry_metrics
from app.core.telemetry.setup import connect_inference, disconnect_inference


@contextlib.contextmanager
def fresh_metrics() -> Iterator[telemetry_metrics.Metrics]:
    """New process metrics, current inside the block (so the ``record_*`` calls of the code
    under test and the inference library's instruments land in them), with the library's GPU
    time and outputs booked as the service books them."""
    fresh = telemetry_metrics.Metrics.create(process_collectors=False, shutdown_on_exit=False)
    connect_inference()
    previous = telemetry_metrics.use_metrics(fresh)
    try:
        yield fresh
    finally:
        telemetry_metrics.use_metrics(previous)
        disconnect_inference()
        fresh.shutdown()


def samples(m: telemetry_metrics.Metrics, name: str) -> list[Sample]:
    """Samples named ``name`` in the rendered (and re-parsed) Prometheus text."""
    text = m.render().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def sample_value(m: telemetry_metrics.Metrics, name: str, **labels: str) -> float | None:
    """The value of the one sample with these labels (a subset match), or ``None``."""
    found = [s.value for s in samples(m, name) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} samples"
    return found[0] if found else None

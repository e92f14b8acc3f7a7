"""Reading the rendered Prometheus text back, as a scraper would."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from app.core.telemetry import metrics as telemetry_metrics


def samples(m: telemetry_metrics.Metrics, name: str) -> list[Sample]:
    """Samples named ``name`` in the rendered (and re-parsed) Prometheus text."""
    text = m.render().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def sample_value(m: telemetry_metrics.Metrics, name: str, **labels: str) -> float | None:
    """The value of the one sample with these labels (a subset match), or ``None``."""
    found = [s.value for s in samples(m, name) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} samples"
    return found[0] if found else None

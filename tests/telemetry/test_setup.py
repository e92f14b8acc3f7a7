"""configure_telemetry wires logs, traces, metrics, drift and prices from settings, once."""

from __future__ import annotations

import logging
from pathlib import Path

import inference.telemetry as inference_telemetry
from app.core.settings import Settings
from app.core.telemetry import cost, metrics
from app.core.telemetry.drift import DriftMonitor
from app.core.telemetry.setup import configure_telemetry, shutdown_telemetry
from tests.telemetry.helpers import sample_value


def test_configure_telemetry_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        telemetry_service_name="mediakg-worker-test",
        drift_baseline_size=10,
        drift_min_samples=10,
        cost_cpu_second_price=0.002,
        cost_currency="EUR",
    )
    previous = metrics.use_metrics(None)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        first = configure_telemetry(settings, role="worker")
        assert configure_telemetry(settings, role="worker") is first  # idempotent
        assert isinstance(first.drift, DriftMonitor)
        assert cost.default_prices() == cost.Prices(0.002, settings.cost_gpu_second_price, 0.023, "EUR")

        inference_telemetry.record_confidences("labels", "1", [0.9] * 10)  # the baseline
        inference_telemetry.record_confidences("labels", "1", [0.2] * 10)  # a shifted window
        assert (tmp_path / "telemetry" / "drift-baselines.json").exists()
        drift = sample_value(first, "mediakg_model_drift", mediakg_model_name="labels")
        assert drift is not None
        assert drift > 0.25
        info = first.render().decode()
        assert 'service_name="mediakg-worker-test"' in info
        assert 'mediakg_process_role="worker"' in info
    finally:
        shutdown_telemetry()
        metrics.use_metrics(previous)
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        cost.set_default_prices(cost.Prices(0.0, 0.0, 0.0))

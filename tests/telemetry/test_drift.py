"""Population stability index: it moves for a shifted distribution and stays put for an
unshifted one; baselines persist across processes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import inference.telemetry as it
from app.core.telemetry import metrics as tm
from app.core.telemetry.drift import Baseline, BaselineStore, DriftMonitor, psi
from app.core.telemetry.metrics import Metrics
from tests.telemetry.helpers import sample_value


def test_psi_by_hand() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    # (0.8-0.5)ln(0.8/0.5) + (0.2-0.5)ln(0.2/0.5)
    expected = 0.3 * math.log(1.6) + (-0.3) * math.log(0.4)
    assert psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(expected)
    # An empty bin is smoothed, not infinite.
    assert math.isfinite(psi([0.5, 0.5], [1.0, 0.0]))


def _monitor(tmp_path: Path) -> DriftMonitor:
    return DriftMonitor(
        BaselineStore(tmp_path / "baselines.json"),
        baseline_size=500,
        window_size=1000,
        min_samples=200,
        on_value=tm.set_drift,
    )


def test_confidence_drift_moves_only_when_the_distribution_shifts(tmp_path: Path, metrics: Metrics) -> None:
    rng = np.random.default_rng(7)
    metrics.drift = _monitor(tmp_path)
    labels = {
        "mediakg_model_name": "mobilenet",
        "mediakg_model_version": "1",
        "mediakg_drift_signal": "confidence",
    }

    # Baseline: confident model (Beta(8, 2), mean 0.8).
    it.record_confidences("mobilenet", "1", rng.beta(8, 2, 500))
    assert sample_value(metrics, "mediakg_model_drift", **labels) is None  # no window yet
    # Same distribution afterwards: PSI stays near 0.
    it.record_confidences("mobilenet", "1", rng.beta(8, 2, 1000))
    unshifted = sample_value(metrics, "mediakg_model_drift", **labels)
    assert unshifted is not None
    assert unshifted < 0.1

    # The model turns unsure (Beta(2, 2), mean 0.5): the window fills with shifted values.
    it.record_confidences("mobilenet", "1", rng.beta(2, 2, 1000))
    shifted = sample_value(metrics, "mediakg_model_drift", **labels)
    assert shifted is not None
    assert shifted > 0.25


def test_embedding_norm_drift_uses_baseline_quantiles(tmp_path: Path, metrics: Metrics) -> None:
    rng = np.random.default_rng(11)
    monitor = _monitor(tmp_path)
    metrics.drift = monitor
    it.record_embedding_norms("mobilenet-features", "1", rng.normal(20.0, 2.0, 500))
    it.record_embedding_norms("mobilenet-features", "1", rng.normal(20.0, 2.0, 400))
    steady = monitor.value("mobilenet-features", "1", "embedding_norm")
    it.record_embedding_norms("mobilenet-features", "1", rng.normal(26.0, 2.0, 1000))
    moved = monitor.value("mobilenet-features", "1", "embedding_norm")
    assert steady is not None
    assert steady < 0.1
    assert moved is not None
    assert moved > 1.0


def test_baseline_is_stored_and_reused(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    first = _monitor(tmp_path)
    first.observe("ocr", "3.10", "confidence", list(rng.beta(9, 1, 500)))
    stored = json.loads((tmp_path / "baselines.json").read_text())
    entry = stored["baselines"]["ocr|3.10|confidence"]
    assert entry["count"] == 500
    assert math.isclose(sum(entry["expected"]), 1.0)

    # A new process: the stored baseline is used at once, nothing is re-captured.
    second = _monitor(tmp_path)
    value = second.observe("ocr", "3.10", "confidence", list(rng.beta(1, 9, 200)))
    assert value is not None
    assert value > 1.0
    assert (
        BaselineStore(tmp_path / "baselines.json").load()["ocr|3.10|confidence"].captured_at
        == entry["captured_at"]
    )


def test_capture_baseline_accepts_the_new_normal(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    monitor = _monitor(tmp_path)
    monitor.observe("whisper", "base", "confidence", list(rng.beta(8, 2, 500)))
    monitor.observe("whisper", "base", "confidence", list(rng.beta(3, 3, 1000)))
    assert (monitor.value("whisper", "base", "confidence") or 0) > 0.25

    baseline = monitor.capture_baseline("whisper", "base", "confidence")
    assert isinstance(baseline, Baseline)
    assert baseline.count == 1000
    assert monitor.value("whisper", "base", "confidence") is None
    after = monitor.observe("whisper", "base", "confidence", list(rng.beta(3, 3, 1000)))
    assert after is not None
    assert after < 0.1


def test_capture_without_observations_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no observations"):
        _monitor(tmp_path).capture_baseline("m", "1", "confidence")


def test_two_writers_keep_each_others_baselines(tmp_path: Path) -> None:
    a, b = _monitor(tmp_path), _monitor(tmp_path)  # two worker processes, one file
    a.observe("labels", "1", "confidence", [0.9] * 500)
    b.observe("faces", "1", "confidence", [0.7] * 500)
    assert set(BaselineStore(tmp_path / "baselines.json").load()) == {
        "labels|1|confidence",
        "faces|1|confidence",
    }

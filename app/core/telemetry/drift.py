"""Drift of model outputs: population stability index (PSI) of the recent distribution of a
model's confidences or embedding norms against a stored baseline.

    PSI = sum over bins of (actual% - expected%) * ln(actual% / expected%)

Rule of thumb used by the alert: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant.

Each (model, version, signal) has a baseline in one JSON file (``drift_baseline_path``,
default ``<data_dir>/telemetry/drift-baselines.json``): captured automatically from the
first ``drift_baseline_size`` observations of that model version, or on purpose with
:meth:`DriftMonitor.capture_baseline` (after a deliberate change). Observations after the
baseline fill a bounded window (``drift_window_size``); once it holds
``drift_min_samples`` values, every new batch recomputes the PSI and exports it as the
``mediakg.model.drift`` gauge. A new model version gets its own baseline: drift measures a
version against itself over time; comparing versions is the shadow mode's job.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from app.core.settings import Settings

# Confidences live in [0, 1]: fixed deciles keep bins comparable across models and stay
# meaningful when outputs pile up at one value. Other signals (norms) are unbounded and
# get baseline quantile bins instead.
_CONFIDENCE_EDGES = tuple(round(0.1 * i, 1) for i in range(1, 10))
_QUANTILE_BINS = 10
# Empty bins would make ln(a/e) infinite; this floor is the usual PSI smoothing.
_EPSILON = 1e-4
_FORMAT = 1


@dataclass(frozen=True)
class Baseline:
    """A reference distribution: inner bin edges and the share of observations per bin."""

    edges: tuple[float, ...]
    expected: tuple[float, ...]
    count: int
    captured_at: str

    @classmethod
    def capture(cls, signal: str, values: Sequence[float]) -> Baseline:
        """A baseline from observed values."""
        data = np.asarray(values, dtype=float)
        if signal == "confidence":
            edges = _CONFIDENCE_EDGES
        else:
            quantiles = np.quantile(data, np.linspace(0, 1, _QUANTILE_BINS + 1)[1:-1])
            edges = tuple(float(q) for q in np.unique(quantiles))
        return cls(
            edges=edges,
            expected=tuple(float(p) for p in proportions(data, edges)),
            count=len(data),
            captured_at=datetime.now(UTC).isoformat(),
        )


FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def proportions(values: FloatArray, edges: Sequence[float]) -> FloatArray:
    """Share of ``values`` in each bin; bin i holds edges[i-1] <= v < edges[i]."""
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="right"), minlength=len(edges) + 1)
    shares: FloatArray = counts / max(len(values), 1)
    return shares


def psi(expected: Sequence[float] | FloatArray, actual: Sequence[float] | FloatArray) -> float:
    """Population stability index between two binned distributions."""
    e = np.clip(np.asarray(expected, dtype=float), _EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=float), _EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


class BaselineStore:
    """Baselines in one JSON file, shared by the processes of one deployment."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_settings(cls, settings: Settings) -> BaselineStore:
        """The store at ``drift_baseline_path`` (default under ``data_dir``)."""
        return cls(settings.drift_baseline_path or settings.data_dir / "telemetry" / "drift-baselines.json")

    def load(self) -> dict[str, Baseline]:
        """Every stored baseline by key (``model|version|signal``)."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {
            key: Baseline(
                edges=tuple(entry["edges"]),
                expected=tuple(entry["expected"]),
                count=int(entry["count"]),
                captured_at=str(entry["captured_at"]),
            )
            for key, entry in raw.get("baselines", {}).items()
        }

    def save(self, key: str, baseline: Baseline) -> None:
        """Store one baseline, keeping the others (re-read under a lock, replaced atomically,
        so two workers capturing different models do not drop each other's)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            baselines = self.load()
            baselines[key] = baseline
            doc = {"format": _FORMAT, "baselines": {k: asdict(v) for k, v in sorted(baselines.items())}}
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
            tmp.replace(self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.path.with_suffix(".lock"), "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def baseline_key(model: str, version: str, signal: str) -> str:
    """The key of one model version's signal in the baseline file."""
    return f"{model}|{version}|{signal}"


class _Track:
    def __init__(self, baseline: Baseline | None, window_size: int) -> None:
        self.baseline = baseline
        self.pending: list[float] = []  # observations waiting to become the first baseline
        self.window: deque[float] = deque(maxlen=window_size)
        self.value: float | None = None


DriftCallback = Callable[[str, str, str, float], None]


class DriftMonitor:
    """Tracks every (model, version, signal) seen; implements ``metrics.DriftSink``."""

    def __init__(
        self,
        store: BaselineStore,
        *,
        baseline_size: int = 500,
        window_size: int = 1000,
        min_samples: int = 200,
        on_value: DriftCallback | None = None,
    ) -> None:
        self.store = store
        self.baseline_size = baseline_size
        self.window_size = window_size
        self.min_samples = min(min_samples, window_size)
        self.on_value = on_value
        self._lock = threading.Lock()
        self._tracks: dict[str, _Track] = {}
        self._stored = store.load()

    @classmethod
    def from_settings(cls, settings: Settings, on_value: DriftCallback | None = None) -> DriftMonitor:
        """A monitor configured by the ``drift_*`` settings."""
        return cls(
            BaselineStore.from_settings(settings),
            baseline_size=settings.drift_baseline_size,
            window_size=settings.drift_window_size,
            min_samples=settings.drift_min_samples,
            on_value=on_value,
        )

    def _track(self, key: str) -> _Track:
        track = self._tracks.get(key)
        if track is None:
            track = self._tracks[key] = _Track(self._stored.get(key), self.window_size)
        return track

    def observe(self, model: str, version: str, signal: str, values: Sequence[float]) -> float | None:
        """Add observations; returns (and exports) the new PSI when the window is full enough."""
        key = baseline_key(model, version, signal)
        clean = [v for v in values if math.isfinite(v)]
        with self._lock:
            track = self._track(key)
            if track.baseline is None:
                room = self.baseline_size - len(track.pending)
                track.pending.extend(clean[:room])
                clean = clean[room:]
                if len(track.pending) < self.baseline_size:
                    return None
                track.baseline = Baseline.capture(signal, track.pending)
                track.pending = []
                self.store.save(key, track.baseline)
            track.window.extend(clean)
            if len(track.window) < self.min_samples:
                return None
            baseline = track.baseline
            actual = proportions(np.fromiter(track.window, dtype=float), baseline.edges)
            track.value = psi(baseline.expected, actual)
            value = track.value
        if self.on_value is not None:
            self.on_value(model, version, signal, value)
        return value

    def capture_baseline(self, model: str, version: str, signal: str) -> Baseline:
        """Make the current window (or the pending observations) the baseline, e.g. after a
        reviewed change in the input mix; the window restarts empty."""
        key = baseline_key(model, version, signal)
        with self._lock:
            track = self._track(key)
            source = list(track.window) or track.pending
            if not source:
                raise ValueError(f"no observations of {key} to capture a baseline from")
            track.baseline = Baseline.capture(signal, source)
            track.pending = []
            track.window.clear()
            track.value = None
            self.store.save(key, track.baseline)
            return track.baseline

    def value(self, model: str, version: str, signal: str) -> float | None:
        """The last PSI computed for one model version's signal."""
        with self._lock:
            track = self._tracks.get(baseline_key(model, version, signal))
            return None if track is None else track.value

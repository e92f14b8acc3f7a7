"""Scrape Triton's Prometheus endpoint and re-export what an operator of this service needs:
GPU utilisation and memory, Triton host CPU, and per model the pending requests and the mean
queue time, compute time and server-side batch size over the last scrape interval. The gauges
are created through the OpenTelemetry API (the service's SDK exports them).

Triton's request metrics are cumulative counters (``nv_inference_queue_duration_us`` etc.);
means over an interval come from the difference of two scrapes. The first scrape after start
(or after Triton restarted, when counters go backwards) sets only the instantaneous gauges.

Triton labels its metrics with its own model name (``all-MiniLM-L6-v2__fp32-1``, see
``inference.triton.model_repository.triton_model_name``) and its integer version (always ``1`` here: the
registry version is part of the Triton name). The scraper maps them back to the registry name
and version (``all-MiniLM-L6-v2`` / ``fp32-1``), the labels every other model metric carries,
so Triton's view of a model joins the service's own. A Triton model the registry does not know
keeps Triton's name and version.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from inference.registry import default_registry
from inference.telemetry import MODEL, MODEL_VERSION, Instruments, InstrumentSpec
from inference.triton.model_repository import triton_model_name

log = logging.getLogger(__name__)

TRITON_METRICS_PORT = 8002  # Triton's default --metrics-port
HW_ID = "hw.id"

UP = InstrumentSpec("mediakg.triton.up", "gauge", "1", "1 when the last Triton scrape succeeded.")
GPU_UTILIZATION = InstrumentSpec("hw.gpu.utilization", "gauge", "1", "GPU utilisation (0..1) seen by Triton.")
GPU_MEMORY_USAGE = InstrumentSpec("hw.gpu.memory.usage", "gauge", "By", "GPU memory in use.")
GPU_MEMORY_LIMIT = InstrumentSpec("hw.gpu.memory.limit", "gauge", "By", "GPU memory in total.")
CPU_UTILIZATION = InstrumentSpec(
    "mediakg.triton.cpu.utilization", "gauge", "1", "CPU utilisation (0..1) of the Triton host."
)
PENDING = InstrumentSpec(
    "mediakg.triton.pending_requests", "gauge", "{request}", "Requests waiting in Triton's scheduler queue."
)
QUEUE_TIME = InstrumentSpec(
    "mediakg.triton.queue.time",
    "gauge",
    "s",
    "Mean time a request waited in Triton's queue over the last scrape interval.",
)
COMPUTE_TIME = InstrumentSpec(
    "mediakg.triton.compute.time",
    "gauge",
    "s",
    "Mean compute time of one Triton execution over the last scrape interval.",
)
BATCH_SIZE = InstrumentSpec(
    "mediakg.triton.batch.size",
    "gauge",
    "{item}",
    "Mean server-side batch (inferences per execution) over the last scrape interval.",
)
SPECS = (
    UP,
    GPU_UTILIZATION,
    GPU_MEMORY_USAGE,
    GPU_MEMORY_LIMIT,
    CPU_UTILIZATION,
    PENDING,
    QUEUE_TIME,
    COMPUTE_TIME,
    BATCH_SIZE,
)
_instruments = Instruments(*SPECS)

# Cumulative per-model counters we difference between scrapes.
_COUNTERS = (
    "nv_inference_request_success",
    "nv_inference_count",
    "nv_inference_exec_count",
    "nv_inference_queue_duration_us",
    "nv_inference_compute_infer_duration_us",
)

ModelKey = tuple[str, str]


def registry_model_names() -> dict[str, ModelKey]:
    """Triton model name -> (registry name, registry version), for every model this build ships."""
    return {triton_model_name(spec): (spec.name, spec.version) for spec in default_registry()}


@dataclass
class TritonSnapshot:
    """One parse of Triton's metrics text."""

    counters: dict[ModelKey, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    pending: dict[ModelKey, float] = field(default_factory=dict)
    gpu_utilization: dict[str, float] = field(default_factory=dict)
    gpu_memory_used: dict[str, float] = field(default_factory=dict)
    gpu_memory_total: dict[str, float] = field(default_factory=dict)
    cpu_utilization: float | None = None


def parse_triton_metrics(text: str, names: Mapping[str, ModelKey] | None = None) -> TritonSnapshot:
    """The parts of Triton's exposition this service re-exports.

    Per-model samples are keyed by ``names[<Triton model name>]`` (registry name and version);
    models missing from ``names`` by Triton's own name and version.
    """
    snap = TritonSnapshot()
    names = names or {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            # Triton's counters carry no _total suffix; the parser may add or keep one.
            name = sample.name.removesuffix("_total")
            labels = sample.labels
            served = labels.get("model", "")
            model_key = names.get(served) or (served, labels.get("version", ""))
            gpu = labels.get("gpu_uuid", "")
            if name in _COUNTERS:
                snap.counters[model_key][name] = sample.value
            elif name == "nv_inference_pending_request_count":
                snap.pending[model_key] = sample.value
            elif name == "nv_gpu_utilization":
                snap.gpu_utilization[gpu] = sample.value
            elif name == "nv_gpu_memory_used_bytes":
                snap.gpu_memory_used[gpu] = sample.value
            elif name == "nv_gpu_memory_total_bytes":
                snap.gpu_memory_total[gpu] = sample.value
            elif name == "nv_cpu_utilization":
                snap.cpu_utilization = sample.value
    return snap


@dataclass(frozen=True)
class IntervalStats:
    """Means over the interval between two scrapes, for one model version."""

    queue_time_s: float
    compute_time_s: float
    batch_size: float


def interval_stats(before: dict[str, float], after: dict[str, float]) -> IntervalStats | None:
    """Means between two counter readings; ``None`` when nothing ran or counters reset."""
    delta = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in _COUNTERS}
    if any(value < 0 for value in delta.values()):
        return None  # Triton restarted: counters went back to zero
    requests = delta["nv_inference_request_success"]
    executions = delta["nv_inference_exec_count"]
    if requests <= 0 or executions <= 0:
        return None
    return IntervalStats(
        queue_time_s=delta["nv_inference_queue_duration_us"] / requests / 1e6,
        compute_time_s=delta["nv_inference_compute_infer_duration_us"] / executions / 1e6,
        batch_size=delta["nv_inference_count"] / executions,
    )


def resolve_metrics_url(
    inference_url: str, metrics_url: str = "", *, served: tuple[str, tuple[int, ...], int] | None = None
) -> str | None:
    """``metrics_url`` when given; else, when ``inference_url`` points at the server ``mediakg
    triton serve`` runs (``served``: its host, HTTP and gRPC ports, metrics port), that server's
    metrics port; else Triton's default metrics port (8002) on the host of ``inference_url``.
    ``None`` when inference is not on Triton (``local://``)."""
    if metrics_url:
        return metrics_url
    parts = urlsplit(inference_url)
    if parts.scheme in ("grpc", "http", "https") and parts.hostname:
        port = TRITON_METRICS_PORT
        if served is not None and parts.hostname == served[0] and parts.port in served[1]:
            port = served[2]
        return f"http://{parts.hostname}:{port}/metrics"
    return None


class TritonScraper:
    """Scrapes one Triton metrics endpoint, on demand or every ``interval`` seconds."""

    def __init__(
        self, url: str, *, timeout_s: float = 5.0, names: Mapping[str, ModelKey] | None = None
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        # Triton model name -> registry (name, version); the shipped registry by default.
        self.names: Mapping[str, ModelKey] = registry_model_names() if names is None else names
        self.last: TritonSnapshot | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def gpu_count(self) -> int:
        """GPUs the last successful scrape saw (0 on a CPU-only Triton)."""
        return 0 if self.last is None else len(self.last.gpu_utilization)

    def scrape_once(self) -> TritonSnapshot | None:
        """Fetch, parse and re-export; ``None`` (and ``mediakg.triton.up`` 0) on failure."""
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as response:
                text = response.read().decode("utf-8")
            snap = parse_triton_metrics(text, self.names)
        except (OSError, ValueError) as exc:
            log.warning("Triton metrics scrape of %s failed: %s", self.url, exc)
            _instruments.gauge(UP).set(0.0)
            return None
        self._export(snap)
        self.last = snap
        return snap

    def _export(self, snap: TritonSnapshot) -> None:
        gauge = _instruments.gauge
        gauge(UP).set(1.0)
        for gpu, value in snap.gpu_utilization.items():
            gauge(GPU_UTILIZATION).set(value, {HW_ID: gpu})
        for gpu, value in snap.gpu_memory_used.items():
            gauge(GPU_MEMORY_USAGE).set(value, {HW_ID: gpu})
        for gpu, value in snap.gpu_memory_total.items():
            gauge(GPU_MEMORY_LIMIT).set(value, {HW_ID: gpu})
        if snap.cpu_utilization is not None:
            gauge(CPU_UTILIZATION).set(snap.cpu_utilization)
        for (model, version), value in snap.pending.items():
            gauge(PENDING).set(value, {MODEL: model, MODEL_VERSION: version})
        if self.last is None:
            return
        for key, counters in snap.counters.items():
            stats = interval_stats(self.last.counters.get(key, {}), counters)
            if stats is None:
                continue
            attrs = {MODEL: key[0], MODEL_VERSION: key[1]}
            gauge(QUEUE_TIME).set(stats.queue_time_s, attrs)
            gauge(COMPUTE_TIME).set(stats.compute_time_s, attrs)
            gauge(BATCH_SIZE).set(stats.batch_size, attrs)

    def start(self, interval_s: float) -> None:
        """Scrape every ``interval_s`` seconds on a daemon thread until :meth:`stop`."""

        def loop() -> None:
            while not self._stop.is_set():
                self.scrape_once()
                self._stop.wait(interval_s)

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="triton-metrics-scraper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background loop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 1)
            self._thread = None

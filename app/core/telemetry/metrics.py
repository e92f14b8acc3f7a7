"""The process's metrics: one OpenTelemetry ``MeterProvider`` with the instruments of the
table in ``app.core.telemetry.instruments``, and the typed ``record_*`` calls of the service's
layers.

The provider is owned here, not made global: the global provider can be set only once per
process, and tests need a fresh one each. Libraries record through the OpenTelemetry API all
the same: the global provider forwards to the current :class:`Metrics`
(``app.core.telemetry.library_meters``). A ``PrometheusMetricReader`` renders the instruments into
a private ``prometheus_client`` registry served at ``/metrics`` (``app.core.telemetry.exposition``);
when ``telemetry_url`` is set the same instruments are also pushed over OTLP.

Names follow OpenTelemetry semantic conventions where one exists (``messaging.client.sent
.messages``, ``db.client.operation.duration``, ``hw.gpu.*``) and live under ``mediakg.``
otherwise. The Prometheus exporter renders ``mediakg.stage.duration`` (unit ``s``) as
``mediakg_stage_duration_seconds_{bucket,count,sum}`` and a counter as ``..._total``.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Observation, _Gauge
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from app.core.telemetry.instruments import (
    DB_OPERATION,
    DB_SYSTEM,
    DRIFT_SIGNAL,
    ERROR_TYPE,
    GRAPHQL_OPERATION_NAME,
    GRAPHQL_OPERATION_TYPE,
    INSTRUMENTS,
    MESSAGING_DESTINATION,
    MESSAGING_SYSTEM,
    MODEL,
    MODEL_VERSION,
    STAGE,
    STAGE_STATUS,
)
from app.core.telemetry.library_meters import install_global_provider
from app.core.telemetry.resource import build_resource

if TYPE_CHECKING:
    from app.core.settings import Settings

log = logging.getLogger(__name__)

METER_NAME = "mediakg"


class StageRunOutcome(enum.StrEnum):
    """How one stage run ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # final: permanent error or retries exhausted (the message is dead-lettered)
    RETRYING = "retrying"  # transient error, the message will be retried
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class QueueStat:
    """What a queue probe reports for one queue."""

    queue: str
    depth: int
    oldest_age_s: float = 0.0
    dead_letters: int = 0


QueueProbe = Callable[[], Iterable[QueueStat]]


class DriftSink(Protocol):
    """Receives model output values for drift tracking (``app.core.telemetry.drift.DriftMonitor``)."""

    def observe(self, model: str, version: str, signal: str, values: Sequence[float]) -> float | None:
        """Add observations; returns the new drift value when one was computed."""
        ...


class _BoundedLabel:
    """Caps the distinct values one label may take, so a client inventing operation names
    cannot create unbounded Prometheus series; later newcomers become ``"other"``."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self._limit:
                return "other"
            self._seen.add(value)
            return value


# Queue probes may hit Redis; the three queue gauges share one probe result per scrape.
_QUEUE_SNAPSHOT_TTL_S = 1.0


@dataclass
class Metrics:
    """One MeterProvider, its instruments and the Prometheus registry they render into."""

    provider: MeterProvider
    registry: CollectorRegistry
    counters: dict[str, Counter] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    gauges: dict[str, _Gauge] = field(default_factory=dict)
    drift: DriftSink | None = None
    queue_probes: list[QueueProbe] = field(default_factory=list)
    operation_names: _BoundedLabel = field(default_factory=lambda: _BoundedLabel(200))
    _queue_cache: tuple[float, list[QueueStat]] = (0.0, [])
    _queue_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(
        cls,
        *,
        service_name: str = "mediakg",
        role: str = "api",
        otlp_endpoint: str = "",
        process_collectors: bool = True,
        shutdown_on_exit: bool = True,
    ) -> Metrics:
        """A provider with a Prometheus reader (and an OTLP push reader when configured)."""
        registry = CollectorRegistry(auto_describe=True)
        if process_collectors:
            # process_cpu_seconds_total, process_resident_memory_bytes, python_gc_*: the
            # default registry has them, our private one must add them itself.
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        # scope labels (otel_scope_name=...) are the same on every series here: leave them off.
        readers: list[MetricReader] = [PrometheusMetricReader(registry=registry, scope_info_enabled=False)]
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            readers.append(
                PeriodicExportingMetricReader(
                    OTLPMetricExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/metrics"),
                    export_interval_millis=15_000,
                )
            )
        provider = MeterProvider(
            metric_readers=readers,
            resource=build_resource(service_name, role),
            shutdown_on_exit=shutdown_on_exit,
        )
        metrics = cls(provider=provider, registry=registry)
        metrics._create_instruments()
        return metrics

    def _create_instruments(self) -> None:
        meter = self.provider.get_meter(METER_NAME)
        observed: dict[str, Callable[[QueueStat], float]] = {
            "mediakg.queue.depth": lambda stat: float(stat.depth),
            "mediakg.queue.oldest_message.age": lambda stat: stat.oldest_age_s,
            "mediakg.queue.dead_letters": lambda stat: float(stat.dead_letters),
        }
        for spec in INSTRUMENTS:
            if spec.kind == "counter":
                self.counters[spec.name] = meter.create_counter(spec.name, spec.unit, spec.description)
            elif spec.kind == "histogram":
                self.histograms[spec.name] = meter.create_histogram(
                    spec.name, spec.unit, spec.description, explicit_bucket_boundaries_advisory=spec.buckets
                )
            elif spec.kind == "gauge":
                self.gauges[spec.name] = meter.create_gauge(spec.name, spec.unit, spec.description)
            else:
                meter.create_observable_gauge(
                    spec.name, [self._queue_callback(observed[spec.name])], spec.unit, spec.description
                )

    def _queue_callback(
        self, pick: Callable[[QueueStat], float]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(_options: CallbackOptions) -> Iterator[Observation]:
            for stat in self._queue_snapshot():
                yield Observation(pick(stat), {MESSAGING_DESTINATION: stat.queue})

        return callback

    def _queue_snapshot(self) -> list[QueueStat]:
        with self._queue_lock:
            taken_at, stats = self._queue_cache
            if time.monotonic() - taken_at < _QUEUE_SNAPSHOT_TTL_S:
                return stats
            stats = []
            for probe in list(self.queue_probes):
                try:
                    stats.extend(probe())
                except Exception:
                    # A broken probe must not take /metrics down with it; its queues go absent,
                    # which the "absent queue metrics" reasoning in the runbook covers.
                    log.exception("queue probe failed")
            self._queue_cache = (time.monotonic(), stats)
            return stats

    def render(self) -> bytes:
        """The Prometheus text exposition of everything this provider holds (blocking: it
        runs the queue probes)."""
        return generate_latest(self.registry)

    def shutdown(self) -> None:
        """Flush push readers and unregister from the registry."""
        self.provider.shutdown()


_current: Metrics | None = None
_current_lock = threading.Lock()


def get_metrics() -> Metrics:
    """The process's metrics; a Prometheus-only default when nobody configured them, so
    ``record_*`` calls from any layer always land somewhere."""
    global _current
    install_global_provider()
    current = _current
    if current is not None:
        return current
    with _current_lock:
        if _current is None:
            _current = Metrics.create()
        return _current


def use_metrics(metrics: Metrics | None) -> Metrics | None:
    """Make ``metrics`` the process's metrics (``None`` resets); returns the previous ones."""
    global _current
    install_global_provider()
    with _current_lock:
        previous, _current = _current, metrics
    return previous


def configure_metrics(settings: Settings, *, role: str) -> Metrics:
    """Create the process's metrics from settings, once (later calls return the same)."""
    global _current
    install_global_provider()
    with _current_lock:
        if _current is None:
            _current = Metrics.create(
                service_name=settings.telemetry_service_name, role=role, otlp_endpoint=settings.telemetry_url
            )
        return _current


# --- record_* : one call per event, from any layer ------------------------------------


def _error_attrs(attrs: dict[str, str], error_type: str | None) -> dict[str, str]:
    # Semantic conventions: error.type is absent on success (Prometheus renders it as "").
    if error_type:
        attrs[ERROR_TYPE] = error_type
    return attrs


def record_graphql(
    operation: str | None, duration_s: float, *, operation_type: str = "query", error_type: str | None = None
) -> None:
    """One GraphQL operation finished (``operation`` is the operation *name*, never the query)."""
    m = get_metrics()
    name = m.operation_names(operation or "anonymous")
    attrs = _error_attrs({GRAPHQL_OPERATION_NAME: name, GRAPHQL_OPERATION_TYPE: operation_type}, error_type)
    m.histograms["mediakg.graphql.operation.duration"].record(duration_s, attrs)


def record_enqueue(queue: str, *, system: str) -> None:
    """One message was sent to ``queue`` on broker ``system`` (redis, rabbitmq, memory)."""
    get_metrics().counters["messaging.client.sent.messages"].add(
        1, {MESSAGING_SYSTEM: system, MESSAGING_DESTINATION: queue}
    )


def register_queue_probe(probe: QueueProbe) -> Callable[[], None]:
    """Let the job system report queue depth/age/dead letters at scrape time; returns an
    unregister callable. The probe runs in the scraping thread: keep it to a few fast reads."""
    m = get_metrics()
    m.queue_probes.append(probe)

    def unregister() -> None:
        if probe in m.queue_probes:
            m.queue_probes.remove(probe)

    return unregister


def record_stage(
    stage: str,
    *,
    status: StageRunOutcome | str,
    duration_s: float,
    attempt: int,
    error_code: str | None = None,
) -> None:
    """One stage run ended. ``attempt`` counts from 1; it feeds the attempts histogram only
    when the stage is finished (succeeded or finally failed), so retries are not double counted."""
    m = get_metrics()
    status = StageRunOutcome(status)
    attrs = _error_attrs({STAGE: stage, STAGE_STATUS: status.value}, error_code)
    m.histograms["mediakg.stage.duration"].record(duration_s, attrs)
    m.counters["mediakg.stage.runs"].add(1, attrs)
    if status in (StageRunOutcome.SUCCEEDED, StageRunOutcome.FAILED):
        m.histograms["mediakg.stage.attempts"].record(attempt, {STAGE: stage, STAGE_STATUS: status.value})


def observe_outputs(model: str, version: str, signal: str, values: Sequence[float]) -> None:
    """A batch of a model's output confidences or embedding norms (the inference library
    reports them to this listener): fed to the drift monitor when one is set."""
    drift = get_metrics().drift
    if drift is not None:
        drift.observe(model, version, signal, values)


def set_drift(model: str, version: str, signal: str, value: float) -> None:
    """Export a drift value (called by the drift monitor)."""
    get_metrics().gauges["mediakg.model.drift"].set(
        value, {MODEL: model, MODEL_VERSION: version, DRIFT_SIGNAL: signal}
    )


def record_db_operation(
    system: str, operation: str, duration_s: float, *, error_type: str | None = None
) -> None:
    """One SQL statement batch ended (called by the SQLAlchemy instrumentation)."""
    get_metrics().histograms["db.client.operation.duration"].record(
        duration_s, _error_attrs({DB_SYSTEM: system, DB_OPERATION: operation}, error_type)
    )

"""Every metric the service exports, defined in one table, and the typed ``record_*`` calls
the layers make.

The instruments are OpenTelemetry instruments on a ``MeterProvider`` this module owns (not
the global one: the global provider can be set only once per process, and tests need a
fresh one each). A ``PrometheusMetricReader`` renders them into a private
``prometheus_client`` registry served at ``/metrics`` (API) or by :func:`start_metrics_server`
(worker); when ``telemetry_url`` is set the same instruments are also pushed over OTLP.

Names follow OpenTelemetry semantic conventions where one exists (``messaging.client.sent
.messages``, ``db.client.operation.duration``, ``hw.gpu.*``) and live under ``mediakg.``
otherwise. The Prometheus exporter renders ``mediakg.stage.duration`` (unit ``s``) as
``mediakg_stage_duration_seconds_{bucket,count,sum}`` and a counter as ``..._total``;
``tests/deploy`` renders every instrument and checks that dashboards and alerts only name
what comes out.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import anyio.to_thread
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Observation, _Gauge
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.requests import Request
from starlette.responses import Response

from app.core.telemetry.library_meters import install_global_provider
from app.core.telemetry.resource import build_resource

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from app.core.settings import Settings

log = logging.getLogger(__name__)

METER_NAME = "mediakg"

# --- attribute keys (semantic-convention keys where one exists) ---------------------------
GRAPHQL_OPERATION_NAME = "graphql.operation.name"
GRAPHQL_OPERATION_TYPE = "graphql.operation.type"
ERROR_TYPE = "error.type"
MESSAGING_SYSTEM = "messaging.system"
MESSAGING_DESTINATION = "messaging.destination.name"
DB_SYSTEM = "db.system.name"
DB_OPERATION = "db.operation.name"
HW_ID = "hw.id"
STAGE = "mediakg.stage"
STAGE_STATUS = "mediakg.stage.status"
MODEL = "mediakg.model.name"
MODEL_VERSION = "mediakg.model.version"
MODEL_BACKEND = "mediakg.model.backend"
FALLBACK_BACKEND = "mediakg.fallback.backend"
FALLBACK_MODEL = "mediakg.fallback.model"
FALLBACK_REASON = "mediakg.fallback.reason"
DRIFT_SIGNAL = "mediakg.drift.signal"
SEARCH_BACKEND = "mediakg.search.backend"
ASSET_KIND = "mediakg.asset.kind"
CURRENCY = "mediakg.cost.currency"

InstrumentKind = Literal["counter", "histogram", "gauge", "observable_gauge"]


@dataclass(frozen=True)
class InstrumentSpec:
    """One instrument: its OpenTelemetry name, kind, UCUM unit and attribute keys."""

    name: str
    kind: InstrumentKind
    unit: str
    description: str
    attributes: tuple[str, ...]
    buckets: tuple[float, ...] | None = None


# Latency buckets of the HTTP semantic conventions; 0.5 s must stay a bound: the API latency
# SLO in deploy/prometheus/alerts.yaml counts requests under `le="0.5"`.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# Stages run from milliseconds (skip) to tens of minutes (long transcriptions).
_STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
_MODEL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
_CONFIDENCE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
# Unit-normalised embeddings sit at 1.0; raw ones (MobileNet pooled features) spread wide.
_NORM_BUCKETS = (0.5, 0.9, 0.99, 1.01, 1.1, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
_DB_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)  # semconv advice for db.client.*
_COST_BUCKETS = (1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0)

INSTRUMENTS: tuple[InstrumentSpec, ...] = (
    # API
    InstrumentSpec(
        "mediakg.graphql.operation.duration",
        "histogram",
        "s",
        "Duration of GraphQL operations, by operation name and type.",
        (GRAPHQL_OPERATION_NAME, GRAPHQL_OPERATION_TYPE, ERROR_TYPE),
        _LATENCY_BUCKETS,
    ),
    # queues
    InstrumentSpec(
        "messaging.client.sent.messages",
        "counter",
        "{message}",
        "Messages sent to the broker (each enqueue of a stage).",
        (MESSAGING_SYSTEM, MESSAGING_DESTINATION),
    ),
    InstrumentSpec(
        "mediakg.queue.depth",
        "observable_gauge",
        "{message}",
        "Messages waiting in a queue.",
        (MESSAGING_DESTINATION,),
    ),
    InstrumentSpec(
        "mediakg.queue.oldest_message.age",
        "observable_gauge",
        "s",
        "Age of the oldest message waiting in a queue (0 when empty).",
        (MESSAGING_DESTINATION,),
    ),
    InstrumentSpec(
        "mediakg.queue.dead_letters",
        "observable_gauge",
        "{message}",
        "Messages in a queue's dead-letter queue.",
        (MESSAGING_DESTINATION,),
    ),
    # stages
    InstrumentSpec(
        "mediakg.stage.duration",
        "histogram",
        "s",
        "Wall-clock duration of one stage run.",
        (STAGE, STAGE_STATUS, ERROR_TYPE),
        _STAGE_BUCKETS,
    ),
    InstrumentSpec(
        "mediakg.stage.runs",
        "counter",
        "{run}",
        "Stage runs by outcome; failed and retrying runs carry error.type.",
        (STAGE, STAGE_STATUS, ERROR_TYPE),
    ),
    InstrumentSpec(
        "mediakg.stage.attempts",
        "histogram",
        "{attempt}",
        "Attempts a stage took when it finished (succeeded or finally failed).",
        (STAGE, STAGE_STATUS),
        (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0),
    ),
    # models
    InstrumentSpec(
        "mediakg.model.call.duration",
        "histogram",
        "s",
        "Duration of one model call (one batch), by model, version and backend.",
        (MODEL, MODEL_VERSION, MODEL_BACKEND, ERROR_TYPE),
        _MODEL_BUCKETS,
    ),
    InstrumentSpec(
        "mediakg.model.batch.size",
        "histogram",
        "{item}",
        "Items per model call.",
        (MODEL, MODEL_VERSION, MODEL_BACKEND),
        _BATCH_BUCKETS,
    ),
    InstrumentSpec(
        "mediakg.model.fallbacks",
        "counter",
        "{call}",
        "Calls routed away from their preferred backend or model.",
        (MODEL, MODEL_VERSION, MODEL_BACKEND, FALLBACK_BACKEND, FALLBACK_MODEL, FALLBACK_REASON),
    ),
    InstrumentSpec(
        "mediakg.model.confidence",
        "histogram",
        "1",
        "Confidence of each model output (0..1).",
        (MODEL, MODEL_VERSION),
        _CONFIDENCE_BUCKETS,
    ),
    InstrumentSpec(
        "mediakg.model.embedding.norm",
        "histogram",
        "1",
        "L2 norm of each embedding a model produced.",
        (MODEL, MODEL_VERSION),
        _NORM_BUCKETS,
    ),
    InstrumentSpec(
        "mediakg.model.drift",
        "gauge",
        "1",
        "Population stability index of the recent output distribution against the stored baseline.",
        (MODEL, MODEL_VERSION, DRIFT_SIGNAL),
    ),
    # Triton and GPUs (re-exported from Triton's own /metrics by triton_scrape)
    InstrumentSpec("mediakg.triton.up", "gauge", "1", "1 when the last Triton scrape succeeded.", ()),
    InstrumentSpec("hw.gpu.utilization", "gauge", "1", "GPU utilisation (0..1) seen by Triton.", (HW_ID,)),
    InstrumentSpec("hw.gpu.memory.usage", "gauge", "By", "GPU memory in use.", (HW_ID,)),
    InstrumentSpec("hw.gpu.memory.limit", "gauge", "By", "GPU memory in total.", (HW_ID,)),
    InstrumentSpec(
        "mediakg.triton.cpu.utilization",
        "gauge",
        "1",
        "CPU utilisation (0..1) of the Triton host.",
        (),
    ),
    InstrumentSpec(
        "mediakg.triton.pending_requests",
        "gauge",
        "{request}",
        "Requests waiting in Triton's scheduler queue.",
        (MODEL, MODEL_VERSION),
    ),
    InstrumentSpec(
        "mediakg.triton.queue.time",
        "gauge",
        "s",
        "Mean time a request waited in Triton's queue over the last scrape interval.",
        (MODEL, MODEL_VERSION),
    ),
    InstrumentSpec(
        "mediakg.triton.compute.time",
        "gauge",
        "s",
        "Mean compute time of one Triton execution over the last scrape interval.",
        (MODEL, MODEL_VERSION),
    ),
    InstrumentSpec(
        "mediakg.triton.batch.size",
        "gauge",
        "{item}",
        "Mean server-side batch (inferences per execution) over the last scrape interval.",
        (MODEL, MODEL_VERSION),
    ),
    # search
    InstrumentSpec(
        "mediakg.search.duration",
        "histogram",
        "s",
        "Duration of one search request.",
        (SEARCH_BACKEND, ERROR_TYPE),
        _LATENCY_BUCKETS,
    ),
    InstrumentSpec(
        "mediakg.search.hits",
        "histogram",
        "{hit}",
        "Hits returned by one search request.",
        (SEARCH_BACKEND,),
        (0.0, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0),
    ),
    # database
    InstrumentSpec(
        "db.client.operation.duration",
        "histogram",
        "s",
        "Duration of one SQL statement batch.",
        (DB_SYSTEM, DB_OPERATION, ERROR_TYPE),
        _DB_BUCKETS,
    ),
    # cost
    InstrumentSpec(
        "mediakg.item.cost",
        "histogram",
        "{currency}",
        "Cost of processing one item (one job), in cost_currency.",
        (ASSET_KIND, CURRENCY),
        _COST_BUCKETS,
    ),
    InstrumentSpec(
        "mediakg.item.cpu.time",
        "counter",
        "s",
        "CPU-seconds spent on processed items.",
        (ASSET_KIND,),
    ),
    InstrumentSpec(
        "mediakg.item.gpu.time",
        "counter",
        "s",
        "GPU-seconds spent on processed items.",
        (ASSET_KIND,),
    ),
    InstrumentSpec(
        "mediakg.item.stored.size",
        "counter",
        "By",
        "Bytes stored for processed items.",
        (ASSET_KIND,),
    ),
)

SPECS: Mapping[str, InstrumentSpec] = {spec.name: spec for spec in INSTRUMENTS}


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
        """The Prometheus text exposition of everything this provider holds."""
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


def record_model_call(
    model: str,
    version: str,
    backend: str,
    *,
    batch_size: int,
    duration_s: float,
    error_type: str | None = None,
    gpu_seconds: float = 0.0,
) -> None:
    """One model call (one batch) ended. ``gpu_seconds`` (Triton on a GPU) is added to the
    cost of the stage running in this context."""
    m = get_metrics()
    base = {MODEL: model, MODEL_VERSION: version, MODEL_BACKEND: backend}
    m.histograms["mediakg.model.call.duration"].record(duration_s, _error_attrs(dict(base), error_type))
    m.histograms["mediakg.model.batch.size"].record(batch_size, base)
    if gpu_seconds > 0:
        from app.core.telemetry.cost import add_gpu_seconds  # cost imports this module

        add_gpu_seconds(gpu_seconds)


def record_fallback(
    model: str, version: str, backend: str, *, to_backend: str, to_model: str, reason: str
) -> None:
    """A call for ``model``/``version`` on ``backend`` was served by ``to_model`` on ``to_backend``."""
    get_metrics().counters["mediakg.model.fallbacks"].add(
        1,
        {
            MODEL: model,
            MODEL_VERSION: version,
            MODEL_BACKEND: backend,
            FALLBACK_BACKEND: to_backend,
            FALLBACK_MODEL: to_model,
            FALLBACK_REASON: reason,
        },
    )


def record_confidences(model: str, version: str, values: Iterable[float]) -> None:
    """Confidences (0..1) of a model's outputs: histogram, and drift when a monitor is set."""
    _record_distribution("mediakg.model.confidence", "confidence", model, version, values)


def record_embedding_norms(model: str, version: str, norms: Iterable[float]) -> None:
    """L2 norms of a model's embeddings: histogram, and drift when a monitor is set."""
    _record_distribution("mediakg.model.embedding.norm", "embedding_norm", model, version, norms)


def _record_distribution(
    instrument: str, signal: str, model: str, version: str, values: Iterable[float]
) -> None:
    m = get_metrics()
    batch = [float(value) for value in values]
    histogram = m.histograms[instrument]
    attrs = {MODEL: model, MODEL_VERSION: version}
    for value in batch:
        histogram.record(value, attrs)
    if m.drift is not None and batch:
        m.drift.observe(model, version, signal, batch)


def set_drift(model: str, version: str, signal: str, value: float) -> None:
    """Export a drift value (called by the drift monitor)."""
    get_metrics().gauges["mediakg.model.drift"].set(
        value, {MODEL: model, MODEL_VERSION: version, DRIFT_SIGNAL: signal}
    )


def record_search(backend: str, *, duration_s: float, hits: int, error_type: str | None = None) -> None:
    """One search request ended."""
    m = get_metrics()
    m.histograms["mediakg.search.duration"].record(
        duration_s, _error_attrs({SEARCH_BACKEND: backend}, error_type)
    )
    if error_type is None:
        m.histograms["mediakg.search.hits"].record(hits, {SEARCH_BACKEND: backend})


def record_db_operation(
    system: str, operation: str, duration_s: float, *, error_type: str | None = None
) -> None:
    """One SQL statement batch ended (called by the SQLAlchemy instrumentation)."""
    get_metrics().histograms["db.client.operation.duration"].record(
        duration_s, _error_attrs({DB_SYSTEM: system, DB_OPERATION: operation}, error_type)
    )


def set_gauge(name: str, value: float, attributes: Mapping[str, str] | None = None) -> None:
    """Set one of the synchronous gauges of :data:`INSTRUMENTS` (used by the Triton scraper)."""
    get_metrics().gauges[name].set(value, dict(attributes or {}))


# --- exposition --------------------------------------------------------------------------


async def metrics_endpoint(_request: Request) -> Response:
    """Starlette endpoint for ``/metrics``: ``Route("/metrics", metrics_endpoint)``."""
    # Collection runs the queue probes (blocking reads): keep them off the event loop.
    body = await anyio.to_thread.run_sync(get_metrics().render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@dataclass
class MetricsServer:
    """The worker's ``/metrics`` HTTP server (a daemon thread)."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The bound port (useful when the configured port was 0)."""
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(host: str = "127.0.0.1", port: int = 9464) -> MetricsServer:
    """Serve this process's metrics on ``http://host:port/metrics`` (worker processes)."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host, registry=get_metrics().registry)
    return MetricsServer(server=server, thread=thread)

"""Every instrument the service exports, in one table: OpenTelemetry name, kind, UCUM unit,
attribute keys and (histograms) buckets.

The table is the contract with deploy/grafana and deploy/prometheus: ``tests/deploy`` renders
every instrument and checks that dashboards and alerts only name what comes out. The
libraries create theirs through the OpenTelemetry API on the service's meter
(``app.core.telemetry.library_meters``) with the same name, unit, description and buckets as
here (``inference.telemetry``, ``inference.triton.metrics_scrape``, ``search.telemetry``; their
tests hold them to this table), so they record into the instruments made from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# The model layer's attribute keys are its own (the library records with them).
from inference.telemetry import FALLBACK_BACKEND as FALLBACK_BACKEND
from inference.telemetry import FALLBACK_MODEL as FALLBACK_MODEL
from inference.telemetry import FALLBACK_REASON as FALLBACK_REASON
from inference.telemetry import MODEL as MODEL
from inference.telemetry import MODEL_BACKEND as MODEL_BACKEND
from inference.telemetry import MODEL_VERSION as MODEL_VERSION

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
    # Triton and GPUs (re-exported from Triton's own /metrics by inference.triton.metrics_scrape)
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

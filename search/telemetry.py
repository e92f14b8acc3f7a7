"""Spans and metrics of the search library, through the OpenTelemetry API only.

The service configures the SDK (the global TracerProvider and MeterProvider, their exporters);
without one, these spans and instruments are the API's no-ops. The names, units, buckets and
attribute keys are the service's contract with dashboards and alerts (the service lists the same
two instruments in ``app/core/telemetry/instruments.py`` and ``tests/search/test_telemetry.py``
holds both to the same spec), so change them only together.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from search.query import SearchQuery

# The service's tracer and meter name: search spans and metrics are part of its telemetry.
SCOPE = "mediakg"
BACKEND = "mediakg.search.backend"
ERROR_TYPE = "error.type"
DURATION = "mediakg.search.duration"
HITS = "mediakg.search.hits"
# The HTTP semantic conventions' latency buckets; the API latency SLO counts under 0.5 s.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
HITS_BUCKETS = (0.0, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0)
DURATION_DESCRIPTION = "Duration of one search request."
HITS_DESCRIPTION = "Hits returned by one search request."


def tracer() -> trace.Tracer:
    """The tracer search spans are started from."""
    return trace.get_tracer(SCOPE)


@dataclass(frozen=True)
class _Instruments:
    meter: metrics.Meter
    duration: metrics.Histogram
    hits: metrics.Histogram


_instruments: _Instruments | None = None
_instruments_lock = threading.Lock()


def _current_instruments() -> _Instruments:
    """The two histograms on the meter the global MeterProvider hands out now: asked at each
    recording, because a service may switch the provider behind it (its tests make a fresh one
    each); an SDK provider returns the same meter and instruments while nothing changed."""
    global _instruments
    meter = metrics.get_meter(SCOPE)
    current = _instruments
    if current is not None and current.meter is meter:
        return current
    with _instruments_lock:
        _instruments = _Instruments(
            meter=meter,
            duration=meter.create_histogram(
                DURATION, "s", DURATION_DESCRIPTION, explicit_bucket_boundaries_advisory=DURATION_BUCKETS
            ),
            hits=meter.create_histogram(
                HITS, "{hit}", HITS_DESCRIPTION, explicit_bucket_boundaries_advisory=HITS_BUCKETS
            ),
        )
        return _instruments


def _error_type(exc: BaseException) -> str:
    # Low cardinality: an error's string code (or code enum's value) when it has one, else its class.
    code = getattr(exc, "code", None)
    code = getattr(code, "value", code)
    return code if isinstance(code, str) and code else type(exc).__qualname__


@dataclass
class SearchRequest:
    """A search in progress; set ``hits`` before the block ends."""

    hits: int = 0


def _mode(query: SearchQuery) -> str:
    return "hybrid" if query.text and query.vectors else "vector" if query.vectors else "text"


@contextlib.contextmanager
def search_request(backend: str, query: SearchQuery) -> Iterator[SearchRequest]:
    """A span and the latency/hits metrics of one search request (no query text recorded)."""
    request = SearchRequest()
    started = time.perf_counter()
    error_type: str | None = None
    with tracer().start_as_current_span(
        f"search {backend}",
        kind=SpanKind.CLIENT if backend != "embedded" else SpanKind.INTERNAL,
        attributes={BACKEND: backend, "mediakg.search.mode": _mode(query)},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield request
        except BaseException as exc:
            error_type = _error_type(exc)
            _fail(span, exc, error_type)
            raise
        finally:
            span.set_attribute(HITS, request.hits)
            _record(backend, time.perf_counter() - started, request.hits, error_type)


def _fail(span: Span, exc: BaseException, error_type: str) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, error_type))
    span.set_attribute(ERROR_TYPE, error_type)


def _record(backend: str, duration_s: float, hits: int, error_type: str | None) -> None:
    instruments = _current_instruments()
    # Semantic conventions: error.type is absent on success; a failed search has no hit count.
    if error_type is None:
        instruments.duration.record(duration_s, {BACKEND: backend})
        instruments.hits.record(hits, {BACKEND: backend})
    else:
        instruments.duration.record(duration_s, {BACKEND: backend, ERROR_TYPE: error_type})


def index_span(backend: str, *, documents: int) -> contextlib.AbstractContextManager[Span]:
    """The span of one upsert (no search metrics: a write is not a search)."""
    return tracer().start_as_current_span(
        f"index {backend}",
        kind=SpanKind.CLIENT if backend != "embedded" else SpanKind.INTERNAL,
        attributes={BACKEND: backend, "mediakg.search.documents": documents},
    )

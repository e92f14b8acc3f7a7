"""The process's TracerProvider and W3C trace-context propagation.

OpenTelemetry lets the global TracerProvider be set once per process, so this module sets
one provider, once, and routes its spans through a switchboard processor whose exporters can
be replaced: :func:`configure_tracing` installs the exporter the settings ask for (OTLP/HTTP
when ``telemetry_url`` is set, the console when ``telemetry_console``, none otherwise) and
tests add an in-memory exporter with :func:`capture_spans`.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.core.telemetry.resource import build_resource, service_version

if TYPE_CHECKING:
    from app.core.settings import Settings

TRACER_NAME = "mediakg"


class _Switchboard(SpanProcessor):
    """Fans spans out to a replaceable set of processors (the SDK's own list only grows)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processors: tuple[SpanProcessor, ...] = ()

    def add(self, processor: SpanProcessor) -> None:
        with self._lock:
            self._processors = (*self._processors, processor)

    def remove(self, processor: SpanProcessor) -> None:
        with self._lock:
            self._processors = tuple(p for p in self._processors if p is not processor)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in self._processors:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self._processors:
            processor.on_end(span)

    def shutdown(self) -> None:
        for processor in self._processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self._processors)


_lock = threading.Lock()
_provider: TracerProvider | None = None
_switchboard = _Switchboard()
_configured: list[SpanProcessor] = []
_configured_key: tuple[str, bool, str] | None = None


def ensure_provider(service_name: str = "mediakg", role: str = "api") -> TracerProvider:
    """The process's SDK TracerProvider, created and made global on first use."""
    global _provider
    with _lock:
        if _provider is None:
            existing = trace.get_tracer_provider()
            if isinstance(existing, TracerProvider):
                # Someone (a library, a test harness) already made an SDK provider global and
                # it cannot be replaced: route its spans through our exporters too.
                _provider = existing
            else:
                _provider = TracerProvider(resource=build_resource(service_name, role))
                trace.set_tracer_provider(_provider)
            _provider.add_span_processor(_switchboard)
        return _provider


def configure_tracing(settings: Settings, *, role: str) -> TracerProvider:
    """Install the exporter the settings ask for; calling again with the same settings does
    nothing, with different ones replaces the exporter."""
    global _configured_key
    provider = ensure_provider(settings.telemetry_service_name, role)
    key = (settings.telemetry_url, settings.telemetry_console, settings.telemetry_service_name)
    with _lock:
        if key == _configured_key:
            return provider
        _drop_configured()
        if settings.telemetry_url:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = f"{settings.telemetry_url.rstrip('/')}/v1/traces"
            _configured.append(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        if settings.telemetry_console:
            # sys.stdout as of now, not as of import (the exporter's default argument).
            _configured.append(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout)))
        for processor in _configured:
            _switchboard.add(processor)
        _configured_key = key
    return provider


def _drop_configured() -> None:
    for processor in _configured:
        _switchboard.remove(processor)
        processor.shutdown()  # flushes what the batch processor still holds
    _configured.clear()


def shutdown_tracing() -> None:
    """Flush and stop the configured exporters (at process exit or app shutdown)."""
    global _configured_key
    with _lock:
        _drop_configured()
        _configured_key = None


@contextlib.contextmanager
def capture_spans() -> Iterator[InMemorySpanExporter]:
    """Collect every span ended inside the block (tests)."""
    ensure_provider()
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    _switchboard.add(processor)
    try:
        yield exporter
    finally:
        _switchboard.remove(processor)


def tracer() -> trace.Tracer:
    """The tracer every mediakg span is started from."""
    return trace.get_tracer(TRACER_NAME, service_version())


def inject_context(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``, ``tracestate``, ``baggage``),
    ready to travel in message options."""
    out: dict[str, str] = dict(carrier or {})
    propagate.inject(out)
    return out


def extract_context(carrier: Mapping[str, str] | None) -> Context:
    """The context a carrier made by :func:`inject_context` (or HTTP headers) describes."""
    return propagate.extract(dict(carrier or {}))


@contextlib.contextmanager
def attached_context(carrier: Mapping[str, str] | None) -> Iterator[Context]:
    """Run the block inside the trace context of ``carrier`` (a no-op for an empty one)."""
    ctx = extract_context(carrier)
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)


def current_ids() -> tuple[str | None, str | None]:
    """Hex trace id and span id of the current span, or ``(None, None)`` outside one."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None, None
    return trace.format_trace_id(span_context.trace_id), trace.format_span_id(span_context.span_id)

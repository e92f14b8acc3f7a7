"""The process's global MeterProvider: the meters libraries ask the OpenTelemetry API for
(``opentelemetry.metrics.get_meter``, as ``search/telemetry.py`` does) come from the provider of
the current :class:`app.core.telemetry.metrics.Metrics`, so /metrics and OTLP export them.

The API lets the global provider be set once per process, while the service replaces its
``Metrics`` (each test makes a fresh one): the global one is this stand-in, which hands out
the current provider's meters, and a library asks for its meter at each recording.
"""

from __future__ import annotations

import threading

from opentelemetry import metrics as otel_metrics
from opentelemetry.util.types import Attributes

_lock = threading.Lock()
_installed = False


class CurrentMetricsProvider(otel_metrics.MeterProvider):
    """Meters of the current ``Metrics``' provider (the SDK caches one per scope)."""

    def get_meter(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> otel_metrics.Meter:
        from app.core.telemetry.metrics import get_metrics  # metrics installs this provider

        return get_metrics().provider.get_meter(name, version, schema_url, attributes)


def install_global_provider() -> None:
    """Make :class:`CurrentMetricsProvider` the global MeterProvider, once per process."""
    global _installed
    if _installed:
        return
    with _lock:
        if _installed:
            return
        # Set first: installing hands the API's earlier stand-in meters to the new provider,
        # which asks get_metrics(), which calls this again.
        _installed = True
    otel_metrics.set_meter_provider(CurrentMetricsProvider())

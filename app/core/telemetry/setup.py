"""Start-up and shutdown of all telemetry of one process, from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.telemetry import cost, metrics
from app.core.telemetry.drift import DriftMonitor
from app.core.telemetry.logging import configure_logging
from app.core.telemetry.tracing import configure_tracing, shutdown_tracing

if TYPE_CHECKING:
    from app.core.settings import Settings


def configure_telemetry(settings: Settings, *, role: str) -> metrics.Metrics:
    """Logs, traces, metrics, drift monitoring and cost prices for a process whose role is
    ``api``, ``worker`` or ``cli``. Idempotent: a second call changes nothing."""
    configure_logging(settings)
    configure_tracing(settings, role=role)
    m = metrics.configure_metrics(settings, role=role)
    if m.drift is None:
        m.drift = DriftMonitor.from_settings(settings, on_value=metrics.set_drift)
    cost.set_default_prices(cost.Prices.from_settings(settings))
    return m


def shutdown_telemetry() -> None:
    """Flush spans and pushed metrics (the last thing a process does)."""
    shutdown_tracing()
    previous = metrics.use_metrics(None)
    if previous is not None:
        previous.shutdown()

"""Start-up and shutdown of all telemetry of one process, from settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from app.core.telemetry import cost, metrics
from app.core.telemetry.drift import DriftMonitor
from app.core.telemetry.logging import configure_logging
from app.core.telemetry.tracing import configure_tracing, shutdown_tracing
from inference import telemetry as inference_telemetry

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
    connect_inference()
    return m


_connections: list[Callable[[], None]] = []


def connect_inference() -> None:
    """Book what the inference library reports to its listeners: the GPU-seconds of a model
    call to the cost of the stage running in the caller's context, each use of a model and the
    thread of a call to that model's part of the stage's cost (``cost.model_block``), and each
    batch of output confidences and embedding norms to the drift monitor (idempotent)."""
    _connections[:] = [
        inference_telemetry.add_gpu_time_listener(cost.add_gpu_seconds),
        inference_telemetry.add_model_use_listener(cost.model_block),
        inference_telemetry.add_call_thread_listener(cost.charged_call_thread),
        inference_telemetry.add_output_listener(metrics.observe_outputs),
    ]


def disconnect_inference() -> None:
    """Undo :func:`connect_inference`."""
    for disconnect in _connections:
        disconnect()
    _connections.clear()


def shutdown_telemetry() -> None:
    """Flush spans and pushed metrics (the last thing a process does)."""
    disconnect_inference()
    shutdown_tracing()
    previous = metrics.use_metrics(None)
    if previous is not None:
        previous.shutdown()

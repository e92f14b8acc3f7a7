"""Observability: traces, metrics, structured logs, model drift and cost per item.

The layers instrument themselves with one line each, through the names exported here; see
docs/observability.md for the signals and how each operator question is answered.
"""

from app.core.telemetry.cost import add_stored_bytes, record_item_cost
from app.core.telemetry.exposition import metrics_endpoint, start_metrics_server
from app.core.telemetry.graphql_ops import start_operation
from app.core.telemetry.logging import bind_log_context, configure_logging
from app.core.telemetry.metrics import (
    QueueStat,
    StageRunOutcome,
    record_enqueue,
    record_graphql,
    record_stage,
    register_queue_probe,
)
from app.core.telemetry.setup import configure_telemetry, shutdown_telemetry
from app.core.telemetry.spans import enqueue, error_code_of, stage_run
from app.core.telemetry.tracing import attached_context, extract_context, inject_context

__all__ = [
    "QueueStat",
    "StageRunOutcome",
    "add_stored_bytes",
    "attached_context",
    "bind_log_context",
    "configure_logging",
    "configure_telemetry",
    "enqueue",
    "error_code_of",
    "extract_context",
    "inject_context",
    "metrics_endpoint",
    "record_enqueue",
    "record_graphql",
    "record_item_cost",
    "record_stage",
    "register_queue_probe",
    "shutdown_telemetry",
    "stage_run",
    "start_metrics_server",
    "start_operation",
]

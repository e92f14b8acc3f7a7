"""A span and a ``db.client.operation.duration`` sample per SQL statement batch.

opentelemetry-instrumentation-sqlalchemy has no release built against opentelemetry-sdk
1.45.2 (its newest, 0.66b1, pins semantic conventions 0.66b1 while the SDK pins 0.66b2), so
this is the same idea in a few event listeners. SQLAlchemy's asyncio layer runs the
driver in a greenlet that inherits the caller's contextvars (``gr_context``), so these spans
nest under the request's or the stage's span for async engines too.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.telemetry import instruments, metrics
from app.core.telemetry.tracing import tracer

# Statements are parametrised (values travel as bind parameters), so their text carries no
# data; long ones are cut so a 10k-row VALUES list does not bloat the span.
_MAX_STATEMENT_CHARS = 2000
_STATE_KEY = "mediakg_telemetry"
_SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite"}


def _operation(statement: str) -> str:
    words = statement.lstrip().split(None, 1)
    return words[0].upper() if words else "UNKNOWN"


def instrument_engine(engine: AsyncEngine | Engine) -> None:
    """Trace every statement batch of ``engine``; calling twice is harmless."""
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    if event.contains(sync_engine, "before_cursor_execute", _before):
        return
    event.listen(sync_engine, "before_cursor_execute", _before)
    event.listen(sync_engine, "after_cursor_execute", _after)
    event.listen(sync_engine, "handle_error", _error)


def _system(conn: Connection) -> str:
    name = conn.dialect.name
    return _SYSTEMS.get(name, name)


def _before(
    conn: Connection, _cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    operation = _operation(statement)
    system = _system(conn)
    database = (conn.engine.url.database or "").rsplit("/", 1)[-1]
    attributes: dict[str, str | int] = {
        instruments.DB_SYSTEM: system,
        instruments.DB_OPERATION: operation,
        "db.namespace": database,
        "db.query.text": statement[:_MAX_STATEMENT_CHARS],
    }
    if executemany:
        # Semantic conventions: set only for batches, to the number of parameter sets.
        attributes["db.operation.batch.size"] = len(parameters)
    # Span name per semantic conventions: "{db.operation.name} {db.namespace}".
    span = tracer().start_span(f"{operation} {database}".strip(), kind=SpanKind.CLIENT, attributes=attributes)
    setattr(context, _STATE_KEY, (span, time.perf_counter(), system, operation))


def _finish(context: Any, error: BaseException | None) -> None:
    state = getattr(context, _STATE_KEY, None)
    if state is None:
        return
    delattr(context, _STATE_KEY)
    span, started, system, operation = state
    error_type = type(error).__qualname__ if error is not None else None
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, error_type))
        span.set_attribute(instruments.ERROR_TYPE, error_type or "")
    span.end()
    metrics.record_db_operation(system, operation, time.perf_counter() - started, error_type=error_type)


def _after(
    _conn: Connection, _cursor: Any, _statement: str, _parameters: Any, context: Any, _executemany: bool
) -> None:
    _finish(context, None)


def _error(exception_context: ExceptionContext) -> None:
    if exception_context.execution_context is not None:
        _finish(exception_context.execution_context, exception_context.original_exception)

"""A span and a duration sample per SQL statement batch, nested under the caller's span,
on a real async engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.telemetry import tracing
from app.core.telemetry.metrics import Metrics
from app.core.telemetry.sqlalchemy import instrument_engine
from tests.telemetry.helpers import sample_value


async def test_statements_become_child_spans(
    tmp_path: Path, spans: InMemorySpanExporter, metrics: Metrics
) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    instrument_engine(engine)
    instrument_engine(engine)  # twice: still one span per statement
    try:
        with tracing.tracer().start_as_current_span("resolver") as parent:
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, secret TEXT)"))
                await conn.execute(
                    text("INSERT INTO t (secret) VALUES (:s)"), [{"s": "p1"}, {"s": "p2"}, {"s": "p3"}]
                )
                rows = (await conn.execute(text("SELECT id FROM t WHERE secret = :s"), {"s": "p2"})).all()
            with pytest.raises(OperationalError):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT * FROM missing_table"))
    finally:
        await engine.dispose()

    assert rows == [(2,)]
    db_spans = [s for s in spans.get_finished_spans() if s.name != "resolver"]
    assert [s.name for s in db_spans] == [
        "CREATE db.sqlite",
        "INSERT db.sqlite",
        "SELECT db.sqlite",
        "SELECT db.sqlite",
    ]
    parent_id = parent.get_span_context().span_id
    for span in db_spans:
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None
        assert span.parent.span_id == parent_id
    insert = dict(db_spans[1].attributes or {})
    assert insert["db.system.name"] == "sqlite"
    assert insert["db.operation.batch.size"] == 3
    # Parameters are bound, never part of the recorded statement.
    assert all("p2" not in str(dict(s.attributes or {})) for s in db_spans)
    failed = db_spans[3]
    assert failed.status.status_code is StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "OperationalError"

    count = "db_client_operation_duration_seconds_count"
    assert sample_value(metrics, count, db_operation_name="SELECT", error_type="") == 1.0
    assert sample_value(metrics, count, db_operation_name="SELECT", error_type="OperationalError") == 1.0
    assert sample_value(metrics, count, db_operation_name="INSERT") == 1.0

"""The functions the API's strawberry extension calls around each operation."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from app.core.telemetry import tracing
from app.core.telemetry.graphql_ops import clean_operation_name, start_operation
from app.core.telemetry.metrics import Metrics
from tests.telemetry.helpers import sample_value

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_operation_joins_the_callers_trace_and_names_itself(
    spans: InMemorySpanExporter, metrics: Metrics
) -> None:
    op = start_operation(headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    # Spans started while the operation runs (resolvers, SQL) are its children.
    with tracing.tracer().start_as_current_span("resolver"):
        pass
    op.identify(name="SearchAssets", operation_type="query")
    op.end()
    op.end()  # a second end (error path and finally) records nothing more

    finished = {s.name: s for s in spans.get_finished_spans()}
    assert set(finished) == {"query SearchAssets", "resolver"}
    root = finished["query SearchAssets"]
    assert root.kind is SpanKind.SERVER
    assert root.context is not None
    assert root.parent is not None
    assert f"{root.context.trace_id:032x}" == CALLER_TRACE
    assert f"{root.parent.span_id:016x}" == CALLER_SPAN
    resolver_parent = finished["resolver"].parent
    assert resolver_parent is not None
    assert resolver_parent.span_id == root.context.span_id
    # Name and type only: nothing that could hold the document or its variables.
    assert dict(root.attributes or {}) == {
        "graphql.operation.type": "query",
        "graphql.operation.name": "SearchAssets",
    }
    assert (
        sample_value(
            metrics, "mediakg_graphql_operation_duration_seconds_count", graphql_operation_name="SearchAssets"
        )
        == 1.0
    )
    assert tracing.current_ids() == (None, None)  # the operation's context was detached


def test_failed_anonymous_operation(spans: InMemorySpanExporter, metrics: Metrics) -> None:
    with start_operation() as op:
        op.identify(name=None, operation_type="mutation")
        op.end(error_types=["InternalError"])
    span = spans.get_finished_spans()[0]
    assert span.name == "mutation"
    assert span.status.status_code is StatusCode.ERROR
    assert (
        sample_value(
            metrics,
            "mediakg_graphql_operation_duration_seconds_count",
            graphql_operation_name="anonymous",
            graphql_operation_type="mutation",
            error_type="InternalError",
        )
        == 1.0
    )


def test_operation_names_are_validated() -> None:
    assert clean_operation_name("Search_2") == "Search_2"
    # Not a GraphQL Name: could be anything a client put in operationName.
    assert clean_operation_name("{ assets { id } }") is None
    assert clean_operation_name("x" * 101) is None
    assert clean_operation_name("") is None

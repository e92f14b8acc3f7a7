"""What the API's strawberry extension calls around each GraphQL operation (strawberry is
imported only under ``app/api``; this module knows nothing of it).

    op = start_operation(headers=request.headers)      # on_operation, before the yield
    op.identify(name=ctx.operation_name, operation_type="query")   # once parsed
    op.end(error_types=[...])                          # on_operation, after the yield

The span and the metric carry the operation *name* and type, never the document text or
the variables (they may hold user content). Operation names are chosen by clients, so the
metric label is capped (see ``metrics.record_graphql``); the span keeps the real name.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from contextvars import Token
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from app.core.telemetry import instruments, metrics
from app.core.telemetry.tracing import extract_context, tracer

_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,99}$")  # GraphQL Name, capped at 100 chars
_TYPES = frozenset({"query", "mutation", "subscription"})


def clean_operation_name(name: str | None) -> str | None:
    """A valid GraphQL operation name, or ``None`` (anonymous or malformed)."""
    return name if name and _NAME.match(name) else None


class GraphQLOperation:
    """One operation's span and timing, from start to :meth:`end`."""

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self.name: str | None = None
        self.operation_type = "query"
        self._started = time.perf_counter()
        # A caller's traceparent makes this operation part of the caller's trace.
        parent = extract_context(headers) if headers and "traceparent" in headers else None
        self.span = tracer().start_span("graphql.operation", context=parent, kind=SpanKind.SERVER)
        self._token: Token[Context] | None = otel_context.attach(set_span_in_context(self.span, parent))
        self._ended = False

    def identify(self, *, name: str | None, operation_type: str = "query") -> None:
        """Name the operation once the document is parsed."""
        self.name = clean_operation_name(name)
        self.operation_type = operation_type if operation_type in _TYPES else "query"
        # Semantic conventions: "{graphql.operation.type} {graphql.operation.name}".
        self.span.update_name(f"{self.operation_type} {self.name}" if self.name else self.operation_type)
        self.span.set_attribute(instruments.GRAPHQL_OPERATION_TYPE, self.operation_type)
        if self.name:
            self.span.set_attribute(instruments.GRAPHQL_OPERATION_NAME, self.name)

    def end(self, *, error_types: Sequence[str] = ()) -> None:
        """Finish: end the span and record the duration (errors: unexpected resolver errors'
        types; expected user errors are data, not errors)."""
        if self._ended:
            return
        self._ended = True
        error_type = error_types[0] if error_types else None
        if error_type is not None:
            self.span.set_status(Status(StatusCode.ERROR, error_type))
            self.span.set_attribute(instruments.ERROR_TYPE, error_type)
        if self._token is not None:
            otel_context.detach(self._token)
            self._token = None
        self.span.end()
        metrics.record_graphql(
            self.name,
            time.perf_counter() - self._started,
            operation_type=self.operation_type,
            error_type=error_type,
        )

    def __enter__(self) -> GraphQLOperation:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end(error_types=[exc_type.__qualname__] if exc_type is not None else [])


def start_operation(headers: Mapping[str, str] | None = None) -> GraphQLOperation:
    """Begin one GraphQL operation (its span becomes current until :meth:`GraphQLOperation.end`)."""
    return GraphQLOperation(headers)

"""Telemetry of the API: one span and one latency sample per GraphQL operation.

``TraceHeadersMiddleware`` keeps the W3C trace headers of the HTTP request (or WebSocket
handshake) in a context variable, because strawberry's execution context holds our
``Context`` and not the request; ``OperationTelemetry`` reads them so a caller's
``traceparent`` makes the operation part of the caller's trace.

The span and the metric carry the operation name and type, never the document text or the
variables (they may hold user content). Errors the client caused (validation, bad input,
expected domain errors) are data: only unexpected errors mark the operation failed, as a
4xx does not fail an HTTP server span.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from app.api.limits import is_client_error
from app.core.telemetry import error_code_of, start_operation
from graphql import GraphQLError

# What propagation reads (W3C trace context and baggage); nothing else of a request is kept.
_TRACE_HEADERS = (b"traceparent", b"tracestate", b"baggage")

_trace_headers: ContextVar[Mapping[str, str] | None] = ContextVar("mediakg_trace_headers", default=None)


class TraceHeadersMiddleware:
    """Makes the request's trace headers visible to :class:`OperationTelemetry`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", [])
            if name in _TRACE_HEADERS
        }
        # Operations of a WebSocket connection run in tasks created inside this call, which
        # copy the context: they see the handshake's headers too.
        token = _trace_headers.set(headers or None)
        try:
            await self.app(scope, receive, send)
        finally:
            _trace_headers.reset(token)


def _unexpected_error_types(errors: list[GraphQLError] | None) -> list[str]:
    return [
        error_code_of(error.original_error)
        for error in errors or ()
        if error.original_error is not None and not is_client_error(error)
    ]


class OperationTelemetry(SchemaExtension):
    """Span ``{type} {name}`` and ``mediakg.graphql.operation.duration`` per operation.

    Register it *last*: extensions exit in reverse order, so this one sees the resolvers'
    original exceptions before ``ErrorPolicy`` masks them.
    """

    def on_operation(self) -> Iterator[None]:
        operation = start_operation(headers=_trace_headers.get())
        try:
            yield
        finally:
            ctx = self.execution_context
            operation_type = "query"
            if ctx.graphql_document is not None:
                try:
                    operation_type = ctx.operation_type.value
                except RuntimeError:
                    pass  # the named operation is not in the document (a client error)
            operation.identify(name=ctx.operation_name, operation_type=operation_type)
            result = ctx.result
            errors = list(result.errors or []) if result is not None else []
            operation.end(error_types=_unexpected_error_types(errors))

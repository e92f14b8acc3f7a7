"""The GraphQL over HTTP response media type, negotiated from ``Accept``.

A client that accepts ``application/graphql-response+json`` (the GraphQL over HTTP spec's
media type) gets it, and with it HTTP status codes that mean something: a request error
(the document does not parse, does not validate, or its variables do not coerce, so nothing
was executed) answers 400 without a ``data`` entry. Clients that ask for ``application/json``
(or send no ``Accept``, or ``*/*``) keep the legacy behaviour: 200 with ``data: null``.
Checked by the spec's public audit suite (tests/conformance/).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from graphql import GraphQLError

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
LEGACY_JSON = "application/json"


def negotiate(accept: str | None) -> str:
    """The response media type for an ``Accept`` header (the spec's type wins a tie)."""
    best, best_q = LEGACY_JSON, 0.0
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media not in (GRAPHQL_RESPONSE_JSON, LEGACY_JSON):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q or (q == best_q and q > 0 and media == GRAPHQL_RESPONSE_JSON):
            best, best_q = media, q
    return best


def is_request_error(result: ExecutionResult) -> bool:
    """Whether ``result`` failed before execution: parse, validation or variable coercion."""
    if isinstance(result, PreExecutionError):
        return True
    # graphql-core reports variables that do not coerce as errors without a path and no data;
    # a resolver's error always carries the path of its field.
    errors: list[GraphQLError] = list(result.errors or [])
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


class _NegotiatedSubResponse(Response):
    """strawberry's per-request response stub, carrying the media type chosen for it."""

    negotiated: str = LEGACY_JSON


class GraphQLResponseMediaType:
    """Mixin for strawberry's ASGI view: answers in the media type the client accepts."""

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = _NegotiatedSubResponse()
        sub_response.status_code = None  # type: ignore[assignment]  # strawberry: "not set"
        del sub_response.headers["content-length"]
        if isinstance(request, Request):
            sub_response.negotiated = negotiate(request.headers.get("accept"))
            request.state.graphql_sub_response = sub_response
        return sub_response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        data: GraphQLHTTPResponse = await super().process_result(request, result)  # type: ignore[misc]
        sub_response = getattr(request.state, "graphql_sub_response", None)
        if (
            isinstance(sub_response, _NegotiatedSubResponse)
            and sub_response.negotiated == GRAPHQL_RESPONSE_JSON
            and is_request_error(result)
        ):
            data.pop("data", None)  # a request error has no data entry
            sub_response.status_code = 400
        return data

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response: Response = super().create_response(response_data, sub_response)  # type: ignore[misc]
        if (
            isinstance(sub_response, _NegotiatedSubResponse)
            and sub_response.negotiated == GRAPHQL_RESPONSE_JSON
        ):
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        return response

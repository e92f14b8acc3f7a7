"""Authentication at the edges of the API: the 401 answer of HTTP requests without a live key,
and the graphql-transport-ws handler that authenticates ``connection_init`` (close 4401).

The key itself is checked by ``CallerResolver`` (app/api/context.py); scopes are checked per
field by the rules of app/api/authz.py.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, cast

from starlette.responses import JSONResponse
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from app.api.context import Caller, CallerResolver, Context, Loaders
from app.tenancy.service import UnauthenticatedError

UNAUTHORIZED_CLOSE_CODE = 4401

NOBODY = Caller(tenant_id=uuid.UUID(int=0), tenant_slug="", actor="nobody")
"""The caller of a request that runs no operation (the GraphiQL page) and of a WebSocket
before its ``connection_init``: no tenant, no scope, so nothing can be read through it."""


def unauthenticated_response(exc: UnauthenticatedError) -> JSONResponse:
    """HTTP 401 in the shape of a GraphQL error, so GraphQL clients can branch on the code."""
    body = {"errors": [{"message": exc.message, "extensions": {"code": exc.code}}]}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="mediakg"'})


class _HasCallers(Protocol):
    callers: CallerResolver


class AuthenticatingTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws whose ``connection_init`` payload must carry a live key
    (``{"Authorization": "Bearer <key>"}``); otherwise the socket closes with 4401, as the
    protocol's own "Unauthorized" close does."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload: Any = message.get("payload")
        # A repeated or malformed init is the protocol's error (4429 / 4400): strawberry's.
        if not self.connection_init_received and isinstance(payload, dict | None):
            view = cast(_HasCallers, self.view)
            try:
                caller = await view.callers.resolve_params(
                    payload, handshake=self.context.handshake_authorization
                )
            except UnauthenticatedError:
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                await self.websocket.close(code=UNAUTHORIZED_CLOSE_CODE, reason="Unauthorized")
                return
            self.context.caller = caller
            self.context.loaders = Loaders.create(
                self.context.services.read_session_factory, caller.tenant_id
            )
        await super().handle_connection_init(message)

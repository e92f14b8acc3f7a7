"""Rate limits per caller, applied by the API (counters in app/core/ratelimit.py).

- requests: every GraphQL operation (HTTP or WebSocket) and every blob download counts one
  against ``rate_limit_requests_per_minute``; an operation over the limit is answered before it
  is parsed, with the GraphQL error code ``RATE_LIMITED`` and ``extensions.retryAfterSeconds``;
  a blob download with HTTP 429 and ``Retry-After``;
- ingest bytes: an ingest starts while the caller has budget left under
  ``rate_limit_ingest_bytes_per_minute`` (else the typed ``RateLimited`` result) and is charged
  the bytes it brought.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

from starlette.responses import JSONResponse
from strawberry.extensions import SchemaExtension

from app.api.context import Caller, Context
from app.api.limits import refuse_unparsed
from app.core.container import Services
from app.core.errors import RateLimitedError
from graphql import GraphQLError

WINDOW_S = 60.0


def limit_key(caller: Caller) -> str:
    """Whose budget a call spends: the caller's API key (key names repeat across tenants),
    or the tenant's anonymous caller when authentication is disabled."""
    return (
        f"key:{caller.key_id.hex}" if caller.key_id is not None else f"{caller.tenant_id.hex}:{caller.actor}"
    )


async def take_request(services: Services, caller: Caller) -> float | None:
    """Count one request; the seconds to wait when the caller is over the limit, else None."""
    limit = services.settings.rate_limit_requests_per_minute
    if limit == 0:
        return None
    decision = await services.rate_limiter.take(
        f"requests:{limit_key(caller)}", cost=1, limit=limit, window_s=WINDOW_S
    )
    return None if decision.allowed else decision.retry_after_s


def too_many_requests(retry_after_s: float) -> JSONResponse:
    """HTTP 429 for non-GraphQL routes."""
    seconds = math.ceil(retry_after_s)
    body = {"error": "rate limited", "code": "RATE_LIMITED", "retryAfterSeconds": seconds}
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(seconds)})


async def check_ingest_budget(services: Services, caller: Caller) -> None:
    """RateLimitedError when the caller's ingest bytes for this minute are used up."""
    limit = services.settings.rate_limit_ingest_bytes_per_minute
    if limit == 0:
        return
    decision = await services.rate_limiter.take(
        f"ingest-bytes:{limit_key(caller)}", cost=0, limit=limit, window_s=WINDOW_S
    )
    if not decision.allowed:
        raise RateLimitedError(
            f"the ingest limit of {limit} bytes per minute is used up", retry_after_s=decision.retry_after_s
        )


async def charge_ingest(services: Services, caller: Caller, size: int) -> None:
    """Charge ``size`` ingested bytes to the caller."""
    limit = services.settings.rate_limit_ingest_bytes_per_minute
    if limit == 0 or size <= 0:
        return
    await services.rate_limiter.take(
        f"ingest-bytes:{limit_key(caller)}", cost=size, limit=limit, window_s=WINDOW_S
    )


class RequestRateLimiter(SchemaExtension):
    """Counts each operation against the caller's request limit before it is parsed."""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            retry_after = await take_request(context.services, context.caller)
            if retry_after is not None:
                seconds = math.ceil(retry_after)
                error = GraphQLError(
                    f"too many requests: retry after {seconds} s",
                    extensions={"code": "RATE_LIMITED", "retryAfterSeconds": seconds},
                )
                refuse_unparsed(self.execution_context, error)
        yield

"""The ASGI application: health probes, GraphQL (HTTP + WebSocket) and, via lifespan, the
in-process workers of the embedded default."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from app.core.container import Services
from app.core.db import DatabaseUnavailableError, check_database
from app.core.settings import Settings, get_settings
from app.core.telemetry import metrics_endpoint
from app.entrypoints.bootstrap import build_services, start_inference
from app.entrypoints.lifecycle import prepare

log = logging.getLogger(__name__)

# Hooks other layers register to run inside the app's lifespan (workers, sweeper, search):
# each gets the services and returns an async "stop" callable.
StartHook = Callable[[Services], Awaitable[Callable[[], Awaitable[None]]]]


async def inference_start_hook(services: Services) -> Callable[[], Awaitable[None]]:
    """Validate and warm up the API's models on Triton before serving (``start_inference``:
    a contract mismatch fails the start-up; nothing to do for local://). The router closes
    with the services."""
    await start_inference(services)

    async def stop() -> None:
        return None

    return stop


async def freeze_heap_hook(_services: Services) -> Callable[[], Awaitable[None]]:
    """Move what the start built (schema, mappers, models, caches) out of the garbage
    collector's reach: it lives as long as the process, yet every full collection walked all
    of it, and a request allocating thousands of objects triggers collections. Measured on the
    asset-page query in-process: about 3 ms of 20 ms CPU per request (gc.freeze; run last,
    once the other hooks have loaded what they load)."""
    gc.collect()
    gc.freeze()

    async def stop() -> None:
        return None

    return stop


def default_start_hooks(settings: Settings) -> list[StartHook]:
    """What `mediakg serve` runs beside the API, as the settings say: first the model check
    (a mismatch stops the start before any worker runs), then the job system."""
    # Late: an app built with its own hooks (tests) loads no job system.
    from app.entrypoints.job_system import start_hook

    return [inference_start_hook, start_hook]


def server_limits(settings: Settings) -> dict[str, Any]:
    """uvicorn options carrying the request body cap to WebSocket messages: a graphql-transport-ws
    message is a document like an HTTP body, and uvicorn's own default admits 16 MiB."""
    return {
        "ws_max_size": settings.max_json_body_bytes,
        "ws_per_message_deflate": settings.ws_per_message_deflate,
    }


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    start_hooks: list[StartHook] | None = None,
) -> Starlette:
    """The service as one Starlette app."""
    from app.api.http import create_graphql_app  # the API layer imports strawberry: keep it late

    svc = services or build_services(settings or get_settings())
    hooks = list(start_hooks or [])

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        try:
            await check_database(svc.engine)
        except DatabaseUnavailableError as exc:
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await prepare(svc)
        stops = []
        try:
            for hook in hooks:
                stops.append(await hook(svc))
            yield
        finally:
            # Reverse order: workers stop (and release leases) before the pools they use close.
            for stop in reversed(stops):
                try:
                    await stop()
                except Exception:
                    log.exception("shutdown hook failed")
            await svc.aclose()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        # Prometheus text; the worker serves the same on metrics_host:metrics_port.
        Route("/metrics", metrics_endpoint),
        Mount("/", app=create_graphql_app(svc)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.services = svc
    return app

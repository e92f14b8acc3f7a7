"""Wires the job system into a process: the runtime builds its services and starts its models
with the composition root's functions, handed to it as a ``RuntimeWiring``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from app.core.container import Enqueuer, Services
from app.core.settings import Settings
from app.entrypoints.bootstrap import build_services, start_triton_scraper, start_worker_inference
from jobs.broker import DramatiqEnqueuer, build_broker, close_broker
from jobs.runtime import JobRuntime, RuntimeWiring

# Workers start with their stage models warm (start_worker_inference), not just checked.
WIRING = RuntimeWiring(
    build_services=build_services,
    start_inference=start_worker_inference,
    start_triton_scraper=start_triton_scraper,
)


def job_runtime(settings: Settings, **options: Any) -> JobRuntime:
    """A job runtime wired to this process's services (``JobRuntime``'s options, unstarted)."""
    return JobRuntime(settings, wiring=WIRING, **options)


async def start_hook(services: Services) -> Callable[[], Awaitable[None]]:
    """For ``mediakg serve`` (``app.entrypoints.asgi`` start hooks): wire the enqueuer into ``services``
    and run worker threads when the broker is in-process (memory://), the sweeper always.

    Returns the coroutine function that stops it (in-flight stages get 10 s, then are released).
    """
    settings = services.settings
    runtime = job_runtime(
        settings, workers=settings.broker_url.startswith("memory://"), host_services=services
    )
    await asyncio.to_thread(runtime.start)
    services.enqueuer = runtime.enqueuer
    services.extras["jobs"] = runtime

    async def stop() -> None:
        services.enqueuer = None
        await asyncio.to_thread(runtime.stop, 10.0)

    return stop


@contextmanager
def sender(settings: Settings) -> Iterator[Enqueuer | None]:
    """The enqueuer of a process that only sends (``mediakg ingest``): on an external broker,
    its jobs go out after commit like the API's (app/jobs/outbox.py) instead of waiting for a
    sweeper; None on memory://, whose queue lives inside ``mediakg serve`` (its sweeper sends)."""
    if settings.broker_url.startswith("memory://"):
        yield None
        return
    broker = build_broker(settings, time_limit_s=settings.stage_time_limit_seconds)
    try:
        yield DramatiqEnqueuer(broker)
    finally:
        close_broker(broker)

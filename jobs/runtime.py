"""The job system of one process: broker, stage actor, worker threads, event loop, sweeper.

Used three ways:
- ``mediakg worker`` (``jobs/cli.py``): a separate process consuming Redis or RabbitMQ;
- ``mediakg serve`` on the embedded default: ``start_hook`` runs worker threads on the
  in-process broker inside the server (and only the sweeper when the broker is external);
- tests: ``JobRuntime(settings, registry=...)`` with their own stage implementations.

All stage coroutines of a process run on one event loop thread (Dramatiq's worker threads
block on it), so database pools and the publisher live on that loop only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

import dramatiq
from dramatiq.asyncio import EventLoopThread
from dramatiq.broker import Broker
from dramatiq.middleware import CurrentMessage

import app.models  # noqa: F401  (every mapper configured: a worker loads no other module that would)
from app.assets.service import SEARCH_SYNC_ACTOR
from app.bootstrap import build_services
from app.container import Services
from app.jobs.service import STAGE_ACTOR
from app.settings import Settings
from jobs.broker import DramatiqEnqueuer, build_broker, declare_actor
from jobs.indexing import run_reconciler
from jobs.registry import DEFAULT_STAGE_MODULES, StageRegistry, build_registry
from jobs.runner import StageRunner
from jobs.stages.index import sync_asset
from jobs.sweeper import SweepReport, run_sweeper

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    """host:pid, shown as the lease owner of the stages this process runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JobRuntime:
    """Start with ``start()``, stop with ``stop(grace_s)`` (finish or release in-flight stages)."""

    def __init__(
        self,
        settings: Settings,
        *,
        registry: StageRegistry | None = None,
        stage_modules: Iterable[str] = DEFAULT_STAGE_MODULES,
        threads: int | None = None,
        queues: Iterable[str] | None = None,
        workers: bool = True,
        sweeper: bool = True,
        host_services: Services | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry if registry is not None else build_registry(stage_modules)
        self.threads = threads or settings.worker_threads
        self.queues = set(queues) if queues else None
        self.run_workers = workers
        self.run_sweeper = sweeper
        self.host_services = host_services
        self.worker_id = worker_id or default_worker_id()
        self.sweep_reports: list[SweepReport] = []
        self._draining = False
        self._loop_thread: EventLoopThread | None = None
        self._worker: dramatiq.Worker | None = None
        self._sweeper_stop: asyncio.Event | None = None
        self._sweeper_future: concurrent.futures.Future[None] | None = None
        self._reconciler_future: concurrent.futures.Future[None] | None = None
        self.broker: Broker | None = None
        self.enqueuer: DramatiqEnqueuer | None = None
        self.services: Services | None = None
        self.runner: StageRunner | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop all stage coroutines of this process run on."""
        if self._loop_thread is None:
            raise RuntimeError("the job runtime is not started")
        return self._loop_thread.loop

    def call(self, coro: Awaitable[Any]) -> Any:
        """Run ``coro`` on the runtime's loop from another thread and wait for its result."""
        if self._loop_thread is None:
            raise RuntimeError("the job runtime is not started")
        return self._loop_thread.run_coroutine(coro)

    def start(self) -> None:
        """Start the loop, the broker, the worker threads and the sweeper."""
        time_limit = self.registry.max_time_limit_s(self.settings.stage_time_limit_seconds)
        self._loop_thread = EventLoopThread(log)
        self._loop_thread.start(timeout=5.0)
        services = build_services(self.settings)
        if self.host_services is not None and self.settings.pubsub_url.startswith("memory"):
            # The in-process publisher is the one the server's subscribers listen on; an
            # external one (Redis) is bound to its own loop, so this runtime builds its own.
            services = dataclasses.replace(
                services, publisher=self.host_services.publisher, blobs=self.host_services.blobs
            )
        self.broker = build_broker(self.settings, time_limit_s=time_limit)
        self.enqueuer = DramatiqEnqueuer(self.broker)
        services.enqueuer = self.enqueuer
        self.services = services
        self.runner = StageRunner(services, self.registry, enqueuer=self.enqueuer, worker_id=self.worker_id)
        declare_actor(
            self.broker,
            STAGE_ACTOR,
            self._handle_stage_message,
            settings=self.settings,
            time_limit_s=time_limit,
        )
        declare_actor(
            self.broker,
            SEARCH_SYNC_ACTOR,
            self._handle_search_sync,
            settings=self.settings,
            time_limit_s=time_limit,
        )
        if self.run_workers:
            self._worker = dramatiq.Worker(self.broker, queues=self.queues, worker_threads=self.threads)
            self._worker.start()
        if self.run_sweeper:
            self._sweeper_stop = asyncio.Event()
            # In-process queues start empty: whatever was queued before this process is gone.
            first = timedelta(0) if self.settings.broker_url.startswith("memory://") else None
            self._sweeper_future = asyncio.run_coroutine_threadsafe(
                run_sweeper(
                    services,
                    self.enqueuer,
                    self._sweeper_stop,
                    first_lost_after=first,
                    reports=self.sweep_reports,
                ),
                self.loop,
            )
            # Beside the sweeper: re-applies deletions to search, so a lost sync message
            # cannot leave a deleted asset searchable.
            self._reconciler_future = asyncio.run_coroutine_threadsafe(
                run_reconciler(
                    services.session_factory,
                    services.search,
                    self._sweeper_stop,
                    interval_s=max(self.settings.sweeper_interval_seconds, 1.0) * 10,
                ),
                self.loop,
            )
        log.info(
            "job runtime started: broker %s, %s, stages %s",
            type(self.broker).__name__,
            f"{self.threads} worker threads on {sorted(self.queues or ['realtime', 'batch'])}"
            if self.run_workers
            else "no workers",
            ", ".join(self.registry.names()) or "none",
        )

    def _handle_stage_message(self, job_id: str, stage: str) -> None:
        # Runs in a Dramatiq worker thread; the stage itself runs on the runtime's loop.
        assert self.runner is not None
        assert self._loop_thread is not None
        message = CurrentMessage.get_current_message()
        if self._draining and message is not None and self.broker is not None:
            # Stopping: a worker thread that picks a message after stop() began (Dramatiq's
            # threads finish the get they are blocked in) hands it back instead of starting.
            self.broker.enqueue(message.copy())
            return
        max_retries = self.runner.max_retries_for(stage)
        options: dict[str, Any] = message.options if message is not None else {}
        # Per-stage retry budget: the Retries middleware reads it from the message after the run.
        options["max_retries"] = max_retries
        self._loop_thread.run_coroutine(
            self.runner.run(
                job_id=job_id,
                stage=stage,
                retries=int(options.get("retries", 0)),
                max_retries=max_retries,
                trace_context=dict(options.get("trace_context") or {}),
            )
        )

    def _handle_search_sync(self, tenant_id: str, asset_id: str) -> None:
        # Runs in a Dramatiq worker thread, like stage messages; the work runs on the loop.
        # tenant_id travels for logs and future per-tenant routing; the row is authoritative.
        assert self._loop_thread is not None
        assert self.services is not None
        self._loop_thread.run_coroutine(sync_asset(self.services, asset_id=uuid.UUID(asset_id)))

    def stop(self, grace_s: float = 30.0) -> None:
        """Stop: in-flight stages get ``grace_s`` to finish, then are released (re-queued)."""
        if self._loop_thread is None:
            return
        loop = self.loop
        self._draining = True
        if self._sweeper_stop is not None and self._sweeper_future is not None:
            loop.call_soon_threadsafe(self._sweeper_stop.set)
            try:
                self._sweeper_future.result(timeout=30)
            except Exception:
                log.exception("sweeper did not stop cleanly")
            if self._reconciler_future is not None:
                try:
                    self._reconciler_future.result(timeout=30)
                except Exception:
                    log.exception("search reconciler did not stop cleanly")
        if self._worker is not None:
            runner = self.runner
            timer = threading.Timer(
                grace_s, lambda: loop.call_soon_threadsafe(runner.release_all) if runner else None
            )
            timer.daemon = True
            timer.start()
            try:
                # Worker threads finish their current message (released ones end quickly)
                # before the consumers stop; prefetched messages go back to the broker.
                self._worker.stop(timeout=int((grace_s + 30) * 1000))
            finally:
                timer.cancel()
            self._worker = None
        if self.broker is not None:
            self.broker.close()
        if self.services is not None:
            services = self.services
            try:
                if services.search is not None:
                    self._loop_thread.run_coroutine(services.search.aclose())
                if services.inference is not None:
                    self._loop_thread.run_coroutine(services.inference.aclose())
                self._loop_thread.run_coroutine(services.engine.dispose())
                if self.host_services is None or services.publisher is not self.host_services.publisher:
                    self._loop_thread.run_coroutine(services.publisher.close())
            except Exception:
                log.exception("closing the job runtime's pools failed")
        self._loop_thread.stop()  # type: ignore[no-untyped-call]  # dramatiq leaves it unannotated
        self._loop_thread = None
        log.info("job runtime stopped")


StopHook = Callable[[], Awaitable[None]]


async def start_hook(services: Services) -> StopHook:
    """For ``mediakg serve`` (``app.main`` start hooks): wire the enqueuer into ``services``
    and run worker threads when the broker is in-process (memory://), the sweeper always.

    Returns the coroutine function that stops it (in-flight stages get 10 s, then are released).
    """
    settings = services.settings
    runtime = JobRuntime(
        settings,
        workers=settings.broker_url.startswith("memory://"),
        host_services=services,
    )
    await asyncio.to_thread(runtime.start)
    services.enqueuer = runtime.enqueuer
    services.extras["jobs"] = runtime

    async def stop() -> None:
        services.enqueuer = None
        await asyncio.to_thread(runtime.stop, 10.0)

    return stop

"""The job system of one process: broker, stage actor, worker threads, event loop, sweeper.

Used three ways, always built by the composition root (``app/entrypoints/job_system.py``),
which hands it a ``RuntimeWiring``: how to build this process's services and start its models:
- ``mediakg worker`` (``app/entrypoints/worker_cli.py``): a separate process consuming Redis or RabbitMQ;
- ``mediakg serve`` on the embedded default: ``start_hook`` runs worker threads on the
  in-process broker inside the server (and only the sweeper when the broker is external);
- tests: ``job_runtime(settings, registry=...)`` with their own stage implementations.

All stage coroutines of a process run on one event loop thread (Dramatiq's worker threads
block on it), so database pools and the publisher live on that loop only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dramatiq
import redis
from dramatiq.asyncio import EventLoopThread
from dramatiq.broker import Broker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from dramatiq.message import Message
from dramatiq.middleware import CurrentMessage

import app.models  # noqa: F401  (every mapper configured: a worker loads no other module that would)
from app.assets.blob_sweep import run_blob_sweeper
from app.assets.service import SEARCH_SYNC_ACTOR
from app.core.container import Services
from app.core.settings import Settings
from app.core.telemetry import QueueStat, register_queue_probe
from app.jobs.service import QUEUES, STAGE_ACTOR
from app.webhooks import service as webhooks
from inference.triton.metrics_scrape import TritonScraper
from jobs.broker import (
    DramatiqEnqueuer,
    broker_queue,
    build_broker,
    close_broker,
    declare_actor,
    is_rabbitmq,
    rabbitmq_healthy,
    rabbitmq_queue_stats,
)
from jobs.indexing import run_reconciler
from jobs.registry import DEFAULT_STAGE_MODULES, StageRegistry, build_registry
from jobs.runner import StageRunner
from jobs.stages.index import sync_asset
from jobs.sweeper import SweepReport, run_sweeper

log = logging.getLogger(__name__)

# Worker processes on an external broker announce themselves this often in a Redis sorted set
# (worker id -> last beat); one silent for WORKER_TIMEOUT_S (three missed beats) counts as
# gone. The Redis is the broker's, or on RabbitMQ the event Redis (MEDIAKG_PUBSUB_URL), which
# every multi-process deployment has for its subscriptions. Dramatiq's own __heartbeats__
# set cannot tell workers apart from API processes: every enqueue beats too.
WORKER_HEARTBEAT_S = 10.0
WORKER_TIMEOUT_S = 3 * WORKER_HEARTBEAT_S


@dataclass(frozen=True, slots=True)
class RuntimeWiring:
    """What the composition root gives the job system: the job system never imports it."""

    # The services of the runtime's own event loop (pools are bound to the loop they run on).
    build_services: Callable[[Settings], Services]
    # Before the first message: on Triton, validate the served models against the registry
    # and warm them up, raising when they disagree (the process must not start); with local
    # models, load and warm the stage models.
    start_inference: Callable[[Services], Awaitable[object]]
    # In a process that runs stages on Triton: scrape and re-export Triton's metrics (None for
    # local://); stopped with the runtime.
    start_triton_scraper: Callable[[Settings], TritonScraper | None]


def workers_key(namespace: str) -> str:
    """The Redis sorted set of worker heartbeats of a deployment."""
    return f"{namespace}:mediakg:workers"


def default_worker_id() -> str:
    """host:pid, shown as the lease owner of the stages this process runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JobRuntime:
    """Start with ``start()``, stop with ``stop(grace_s)`` (finish or release in-flight stages)."""

    def __init__(
        self,
        settings: Settings,
        *,
        wiring: RuntimeWiring,
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
        self.wiring = wiring
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
        self._blob_sweeper_future: concurrent.futures.Future[None] | None = None
        self.broker: Broker | None = None
        self.enqueuer: DramatiqEnqueuer | None = None
        self.services: Services | None = None
        self.runner: StageRunner | None = None
        self._unregister_probe: Callable[[], None] | None = None
        self._triton_scraper: TritonScraper | None = None
        self._worker_heartbeat_stop = threading.Event()
        self._worker_heartbeat_thread: threading.Thread | None = None
        self._worker_heartbeat_redis: Any = None

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
        """Start the loop, the models (with workers, on Triton: validated and warmed up;
        ``app.entrypoints.bootstrap.InferenceStartupError`` on a mismatch, with nothing left running),
        the broker, the worker threads and the sweeper."""
        time_limit = self.registry.max_time_limit_s(self.settings.stage_time_limit_seconds)
        self._loop_thread = EventLoopThread(log)
        self._loop_thread.start(timeout=5.0)
        services = self._start_services()
        self.broker = build_broker(self.settings, time_limit_s=time_limit)
        self.enqueuer = DramatiqEnqueuer(self.broker)
        services.enqueuer = self.enqueuer
        self.runner = StageRunner(services, self.registry, enqueuer=self.enqueuer, worker_id=self.worker_id)
        for actor, handler in (
            (STAGE_ACTOR, self._handle_stage_message),
            (SEARCH_SYNC_ACTOR, self._handle_search_sync),
            (webhooks.DELIVER_ACTOR, self._handle_webhook_delivery),
        ):
            declare_actor(self.broker, actor, handler, settings=self.settings, time_limit_s=time_limit)
        if self.run_workers:
            queues = {broker_queue(self.broker, q) for q in self.queues} if self.queues else None
            self._worker = dramatiq.Worker(self.broker, queues=queues, worker_threads=self.threads)
            self._worker.start()
            self._start_worker_heartbeat()
            # Stages call the models: this process exports Triton's GPU view (None for local://).
            self._triton_scraper = self.wiring.start_triton_scraper(self.settings)
        # Every process with a broker reports the queues at /metrics (dashboards take the max).
        self._unregister_probe = register_queue_probe(self.queue_stats)
        if self.run_sweeper:
            self._start_sweepers(services, self.enqueuer)
        log.info(
            "job runtime started: broker %s, %s, stages %s",
            type(self.broker).__name__,
            f"{self.threads} worker threads on {sorted(self.queues or ['realtime', 'batch'])}"
            if self.run_workers
            else "no workers",
            ", ".join(self.registry.names()) or "none",
        )

    def _start_services(self) -> Services:
        """The runtime's services, and with workers its models checked and warmed up."""
        assert self._loop_thread is not None
        services = self.wiring.build_services(self.settings)
        if self.host_services is not None and self.settings.pubsub_url.startswith("memory"):
            # The in-process publisher is the one the server's subscribers listen on; an
            # external one (Redis) is bound to its own loop, so this runtime builds its own.
            services = dataclasses.replace(
                services, publisher=self.host_services.publisher, blobs=self.host_services.blobs
            )
        self.services = services
        if not self.run_workers:
            return services
        # Stages call the models: on Triton, validate the served models against the registry
        # and warm them up before the first message is taken (local models: loaded and
        # warmed). A mismatch stops the start (InferenceStartupError); an unreachable Triton
        # starts with its breaker open and the models run locally.
        try:
            self._loop_thread.run_coroutine(self.wiring.start_inference(services))
        except BaseException:
            log.error("job runtime not started: model check failed")
            self._close_services()
            self._loop_thread.stop()  # type: ignore[no-untyped-call]  # dramatiq leaves it unannotated
            self._loop_thread = None
            self.services = None
            raise
        return services

    def _start_sweepers(self, services: Services, enqueuer: DramatiqEnqueuer) -> None:
        """The sweeper, and beside it the search reconciler and the blob sweeper, on the runtime's loop."""
        self._sweeper_stop = asyncio.Event()
        # In-process queues start empty: whatever was queued before this process is gone.
        first = timedelta(0) if self.settings.broker_url.startswith("memory://") else None
        self._sweeper_future = asyncio.run_coroutine_threadsafe(
            run_sweeper(
                services, enqueuer, self._sweeper_stop, first_lost_after=first, reports=self.sweep_reports
            ),
            self.loop,
        )
        # Re-applies deletions to search, so a lost sync message cannot leave a deleted asset
        # searchable.
        self._reconciler_future = asyncio.run_coroutine_threadsafe(
            run_reconciler(
                services.session_factory,
                services.search,
                self._sweeper_stop,
                interval_s=max(self.settings.sweeper_interval_seconds, 1.0) * 10,
            ),
            self.loop,
        )
        # Staged uploads of killed processes and blobs no row references (after a grace).
        self._blob_sweeper_future = asyncio.run_coroutine_threadsafe(
            run_blob_sweeper(services.session_factory, services.blobs, self.settings, self._sweeper_stop),
            self.loop,
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

    def _handle_webhook_delivery(self, delivery_id: str) -> None:
        # One attempt; a failed one schedules the next itself (app/webhooks/service.py), so
        # Dramatiq's retries never run a webhook twice.
        assert self._loop_thread is not None
        assert self.services is not None
        self._loop_thread.run_coroutine(webhooks.attempt(self.services, delivery_id=uuid.UUID(delivery_id)))

    def stop(self, grace_s: float = 30.0) -> None:
        """Stop: in-flight stages get ``grace_s`` to finish, then are released (re-queued)."""
        if self._loop_thread is None:
            return
        loop = self.loop
        self._draining = True
        if self._unregister_probe is not None:
            self._unregister_probe()
            self._unregister_probe = None
        if self._triton_scraper is not None:
            self._triton_scraper.stop()
            self._triton_scraper = None
        self._stop_worker_heartbeat()
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
            if self._blob_sweeper_future is not None:
                try:
                    self._blob_sweeper_future.result(timeout=30)
                except Exception:
                    log.exception("blob sweeper did not stop cleanly")
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
            close_broker(self.broker)
        if self._worker_heartbeat_redis is not None:
            self._worker_heartbeat_redis.close()
            self._worker_heartbeat_redis = None
        self._close_services()
        self._loop_thread.stop()  # type: ignore[no-untyped-call]  # dramatiq leaves it unannotated
        self._loop_thread = None
        log.info("job runtime stopped")

    def _close_services(self) -> None:
        """Close the runtime's own pools on its loop (not the host's publisher)."""
        if self.services is None or self._loop_thread is None:
            return
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

    # --- operations: what /metrics and the systemStatus query report ---------------------

    def queue_stats(self) -> list[QueueStat]:
        """Depth (ready and delayed), age of the oldest ready message and dead letters per
        queue, read from the broker (blocking; the metrics scrape runs it in a thread)."""
        broker = self.broker
        if isinstance(broker, StubBroker):
            return [_stub_queue_stat(broker, queue) for queue in QUEUES]
        if broker is not None and is_rabbitmq(broker):
            return rabbitmq_queue_stats(broker, QUEUES)
        client = getattr(broker, "client", None)
        namespace = getattr(broker, "namespace", None)
        if client is None or namespace is None:
            return []
        now_ms = time.time() * 1000
        stats = []
        for queue in QUEUES:
            key = f"{namespace}:{queue}"
            with client.pipeline(transaction=False) as pipe:
                pipe.llen(key)
                pipe.llen(f"{namespace}:{dq_name(queue)}")
                pipe.zcard(f"{namespace}:{queue}.XQ")
                pipe.lindex(key, 0)
                ready, delayed, dead, head = pipe.execute()
            # RedisBroker layout (dramatiq/brokers/redis/dispatch.lua): <ns>:<queue> lists
            # message ids oldest first, <ns>:<queue>.msgs maps an id to the encoded message.
            data = client.hget(f"{key}.msgs", head) if head is not None else None
            age = (now_ms - Message.decode(data).message_timestamp) / 1000 if data is not None else 0.0
            stats.append(QueueStat(queue, int(ready) + int(delayed), max(0.0, age), int(dead)))
        return stats

    def local_status(self) -> dict[str, Any]:
        """What this process's heartbeat reports: the models its router has loaded (registry
        keys) and the state of each circuit breaker (none before the first stage built one)."""
        router = self.services.inference if self.services is not None else None
        pool = getattr(router, "pool", None)
        breaker = getattr(router, "breaker", None)  # only a Triton-first router has one
        return {
            "models": sorted({record.key for record in pool.loads}) if pool is not None else [],
            "breakers": {breaker.name: str(breaker.state)} if breaker is not None else {},
        }

    def workers_alive(self) -> dict[str, dict[str, Any]]:
        """Worker id -> its last heartbeat's report plus ``seen_s_ago``, for workers heard from
        within WORKER_TIMEOUT_S (this process's own workers on memory://)."""
        broker = self.broker
        if isinstance(broker, StubBroker):
            return {self.worker_id: {"seen_s_ago": 0.0, **self.local_status()}} if self._worker else {}
        store = self._worker_heartbeat_store()
        if store is None:
            return {}
        client, namespace = store
        now = time.time()
        key = workers_key(namespace)
        beats = client.zrangebyscore(key, now - WORKER_TIMEOUT_S, "+inf", withscores=True)
        if not beats:
            return {}
        reports = client.hmget(f"{key}:status", [member for member, _ in beats])
        alive: dict[str, dict[str, Any]] = {}
        for (member, score), report in zip(beats, reports, strict=True):
            worker = member.decode() if isinstance(member, bytes) else str(member)
            alive[worker] = {**json.loads(report or "{}"), "seen_s_ago": round(max(0.0, now - score), 3)}
        return alive

    def broker_healthy(self) -> bool:
        """Whether the broker answers (always, for the in-process one): Redis a PING,
        RabbitMQ a new connection and channel, within a few seconds."""
        if self.broker is None:
            return False
        if is_rabbitmq(self.broker):
            return rabbitmq_healthy(self.broker)
        client = getattr(self.broker, "client", None)
        if client is None:
            return True
        try:
            return bool(client.ping())
        except Exception:
            log.warning("broker ping failed", exc_info=True)
            return False

    def _worker_heartbeat_store(self) -> tuple[Any, str] | None:
        """(Redis client, key namespace) of the heartbeats: the Redis broker's own, else a
        redis:// event bus's (RabbitMQ), else none (the in-process broker needs none)."""
        client = getattr(self.broker, "client", None)
        namespace = getattr(self.broker, "namespace", None)
        if client is not None and namespace is not None:
            return client, namespace
        if not self.settings.pubsub_url.startswith(("redis://", "rediss://", "unix://")):
            return None
        if self._worker_heartbeat_redis is None:
            self._worker_heartbeat_redis = redis.Redis.from_url(
                self.settings.pubsub_url, socket_timeout=3, socket_connect_timeout=3
            )
        return self._worker_heartbeat_redis, self.settings.redis_key_prefix

    def _start_worker_heartbeat(self) -> None:
        store = self._worker_heartbeat_store()
        if store is None:
            return
        client, namespace = store
        key = workers_key(namespace)
        self._worker_heartbeat_stop.clear()

        def beat() -> None:
            while True:
                try:
                    now = time.time()
                    report = json.dumps(self.local_status())
                    # Forget workers long gone, so the set stays the size of the fleet.
                    cutoff = now - 10 * WORKER_TIMEOUT_S
                    with client.pipeline(transaction=False) as pipe:
                        pipe.zadd(key, {self.worker_id: now})
                        pipe.hset(f"{key}:status", self.worker_id, report)
                        pipe.zrangebyscore(key, 0, cutoff)
                        pipe.zremrangebyscore(key, 0, cutoff)
                        gone = pipe.execute()[2]
                    if gone:
                        client.hdel(f"{key}:status", *gone)
                except Exception:
                    log.warning("worker heartbeat failed", exc_info=True)
                if self._worker_heartbeat_stop.wait(WORKER_HEARTBEAT_S):
                    return

        self._worker_heartbeat_thread = threading.Thread(target=beat, name="worker heartbeat", daemon=True)
        self._worker_heartbeat_thread.start()

    def _stop_worker_heartbeat(self) -> None:
        if self._worker_heartbeat_thread is None:
            return
        self._worker_heartbeat_stop.set()
        self._worker_heartbeat_thread.join(timeout=5)
        self._worker_heartbeat_thread = None
        store = self._worker_heartbeat_store()
        if store is not None:
            client, namespace = store
            try:
                key = workers_key(namespace)
                client.zrem(key, self.worker_id)  # gone now, not in 30 s
                client.hdel(f"{key}:status", self.worker_id)
            except Exception:
                log.warning("removing the worker heartbeat failed", exc_info=True)


def _stub_queue_stat(broker: StubBroker, queue: str) -> QueueStat:
    ready = broker.queues[queue]
    delayed = broker.queues[dq_name(queue)]
    # queue.Queue keeps its items in a deque guarded by its mutex; reading the head is safe.
    with ready.mutex:
        head = ready.queue[0] if ready.queue else None
    age = (time.time() * 1000 - Message.decode(head).message_timestamp) / 1000 if head is not None else 0.0
    return QueueStat(
        queue, ready.qsize() + delayed.qsize(), max(0.0, age), len(broker.dead_letters_by_queue[queue])
    )

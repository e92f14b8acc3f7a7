"""What the ``systemStatus`` query reports, gathered from this process's services and its job
runtime (no strawberry here: the types module renders it).

Sources, and why each:

- queues: the broker, read by the job runtime with the same reads as the ``/metrics`` queue
  gauges (``JobRuntime.queue_stats``), so the API and the dashboard agree;
- workers alive: the heartbeats worker processes write every 10 s into a Redis sorted set
  beside the broker's queues (``jobs/runtime.py``), with the models each has loaded and its
  breaker states. Lease owners in ``job_stage`` rows show only workers running a stage at
  this moment, and Dramatiq's own heartbeats also count every API process that merely
  enqueued. On ``memory://`` the workers are this process's threads;
- backends: database (``SELECT 1``), broker (``PING``), search (the backend's ``health()``),
  inference (unhealthy while any live worker, or this API process, reports an open breaker);
- breakers: the live workers', and this process's own (its router embeds search queries),
  listed as worker ``api:<host>:<pid>``.

Details name the failure's class, never its message: messages can carry hosts and URLs, and
until API keys land every caller may read this view.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from app.core.container import Services
from app.core.db import check_database, utcnow
from app.core.settings import Settings
from app.core.telemetry import QueueStat
from inference.registry import default_registry
from inference.routing import resolve_model, route_for_queue

log = logging.getLogger(__name__)

# The breakers list names this API process so: its own breaker guards query embeddings.
API_PROCESS = f"api:{socket.gethostname()}:{os.getpid()}"
# A status page must answer while a backend hangs: each check gets this long.
CHECK_TIMEOUT_S = 5.0

T = TypeVar("T")


class JobSystemView(Protocol):
    """What the status needs of the job runtime (``jobs.runtime.JobRuntime``; the API layer
    does not import ``jobs``)."""

    @property
    def services(self) -> Services | None:
        """The runtime's own services (its inference router and search backend)."""
        ...

    def queue_stats(self) -> list[QueueStat]:
        """Depth, oldest age and dead letters per queue (blocking)."""
        ...

    def workers_alive(self) -> dict[str, dict[str, Any]]:
        """Worker id -> its heartbeat report (``seen_s_ago``, ``models``, ``breakers``) (blocking)."""
        ...

    def broker_healthy(self) -> bool:
        """Whether the broker answers (blocking)."""
        ...


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """One live worker process."""

    id: str
    seen_s_ago: float
    models: tuple[str, ...]
    breakers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ModelReport:
    """A model version loaded by at least one live worker."""

    name: str
    version: str
    workers: int


@dataclass(frozen=True, slots=True)
class BreakerReport:
    """The circuit breaker of one backend in one worker."""

    worker: str
    backend: str
    state: str


@dataclass(frozen=True, slots=True)
class BackendReport:
    """Whether one backend works; ``healthy`` is None when this process cannot tell."""

    name: str
    healthy: bool | None
    detail: str


@dataclass(frozen=True, slots=True)
class RouteReport:
    """Which model serves one task on one queue, and when its output escalates."""

    task: str
    queue: str
    model: str
    escalates_to: str | None
    escalation_rule: str | None
    # "followup" (an ESCALATION job on the batch queue) or "inline" (inside the job's stage).
    escalation: str | None = None
    # Model the idle-time upgrade pass re-runs this queue's output on, when it is not that model.
    upgrades_to: str | None = None


@dataclass(frozen=True, slots=True)
class SystemStatus:
    """Everything ``systemStatus`` shows."""

    checked_at: datetime
    queues: tuple[QueueStat, ...]
    workers: tuple[WorkerReport, ...]
    models: tuple[ModelReport, ...]
    breakers: tuple[BreakerReport, ...]
    backends: tuple[BackendReport, ...]
    routing: tuple[RouteReport, ...] = ()


async def _bounded(check: Callable[[], Awaitable[T]]) -> T:
    return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)


def _failure(exc: BaseException) -> str:
    return "timed out" if isinstance(exc, TimeoutError) else f"failed ({type(exc).__name__})"


async def _database(services: Services) -> BackendReport:
    try:
        await _bounded(lambda: check_database(services.engine))
    except Exception as exc:
        return BackendReport("database", False, _failure(exc))
    return BackendReport("database", True, "ok")


async def _broker(runtime: JobSystemView | None) -> BackendReport:
    if runtime is None:
        return BackendReport("broker", None, "no job runtime in this process")
    try:
        healthy = await _bounded(lambda: asyncio.to_thread(runtime.broker_healthy))
    except Exception as exc:
        return BackendReport("broker", False, _failure(exc))
    return BackendReport("broker", healthy, "ok" if healthy else "does not answer")


async def _search(backend: Any) -> BackendReport:
    if backend is None:
        return BackendReport("search", None, "no search backend in this process")
    try:
        health = await _bounded(backend.health)
    except Exception as exc:
        return BackendReport("search", False, _failure(exc))
    if not health.ok:
        # The backends' own summaries ("cluster red", "no live generation") are safe to show;
        # an exception's text (with the engine's URL) is not.
        safe = health.detail.startswith("cluster ") or health.detail == "no live generation"
        return BackendReport("search", False, f"{health.backend}: {health.detail if safe else 'failing'}")
    live = health.live_generation or "none"
    return BackendReport("search", True, f"{health.backend}, live generation {live}")


def _inference(workers: tuple[WorkerReport, ...], breakers: tuple[BreakerReport, ...]) -> BackendReport:
    if not workers and not breakers:
        return BackendReport("inference", None, "no live worker to report it")
    open_ = [b for b in breakers if b.state == "open"]
    if open_:
        names = ", ".join(sorted({f"{b.backend}@{b.worker}" for b in open_}))
        return BackendReport("inference", False, f"breaker open: {names} (calls fall back to local)")
    return BackendReport("inference", True, "ok")


async def _blocking(fn: Callable[[], T], default: T, what: str) -> T:
    try:
        return await _bounded(lambda: asyncio.to_thread(fn))
    except Exception:
        log.warning("system status: reading %s failed", what, exc_info=True)
        return default


def _workers(reports: Mapping[str, Mapping[str, Any]]) -> tuple[WorkerReport, ...]:
    return tuple(
        WorkerReport(
            id=worker,
            seen_s_ago=float(report.get("seen_s_ago", 0.0)),
            models=tuple(sorted(str(m) for m in report.get("models", ()))),
            breakers={str(k): str(v) for k, v in dict(report.get("breakers", {})).items()},
        )
        for worker, report in sorted(reports.items())
    )


def _models(workers: tuple[WorkerReport, ...]) -> tuple[ModelReport, ...]:
    counts: dict[str, int] = {}
    for worker in workers:
        for key in worker.models:
            counts[key] = counts.get(key, 0) + 1
    reports = []
    for key, count in sorted(counts.items()):
        name, _, version = key.partition(":")
        reports.append(ModelReport(name=name, version=version, workers=count))
    return tuple(reports)


def _own_breakers(services: Services, runtime_services: Services | None) -> tuple[BreakerReport, ...]:
    """The breaker of this API process's own router (query embeddings), as worker
    ``API_PROCESS``; none when that router is the embedded workers' (reported with them)."""
    router = services.inference
    if router is None or (runtime_services is not None and runtime_services.inference is router):
        return ()
    breaker = getattr(router, "breaker", None)  # only a Triton-first router has one
    if breaker is None:
        return ()
    return (BreakerReport(worker=API_PROCESS, backend=str(breaker.name), state=str(breaker.state)),)


def routing_report(settings: Settings) -> tuple[RouteReport, ...]:
    """The routing policy of ``settings`` resolved to registry keys, per task and queue."""
    registry = default_registry()
    policy = settings.routing.transcribe
    accurate = resolve_model(registry, "transcribe", policy.accurate)
    reports = []
    for queue in ("realtime", "batch"):
        route = route_for_queue(registry, policy, queue, default_model=settings.whisper_model)
        escalates = route.escalate_to if route.escalates else None
        where = policy.escalation if queue == "realtime" else "inline"
        upgrades = policy.upgrade_when_idle and route.model != accurate
        reports.append(
            RouteReport(
                task="transcribe",
                queue=queue,
                model=route.model.key,
                escalates_to=escalates.key if escalates is not None else None,
                escalation_rule=route.rule.describe() if escalates is not None and route.rule else None,
                escalation=where if escalates is not None else None,
                upgrades_to=accurate.key if upgrades else None,
            )
        )
    return tuple(reports)


async def collect_status(services: Services) -> SystemStatus:
    """The status of the deployment as this process sees it (checks run concurrently)."""
    runtime: JobSystemView | None = services.extras.get("jobs")
    runtime_services = runtime.services if runtime is not None else None
    search = services.search or (runtime_services.search if runtime_services is not None else None)
    no_queues: list[QueueStat] = []
    no_workers: dict[str, dict[str, Any]] = {}
    queues, alive = no_queues, no_workers
    if runtime is not None:
        queues, alive = await asyncio.gather(
            _blocking(runtime.queue_stats, no_queues, "queues"),
            _blocking(runtime.workers_alive, no_workers, "worker heartbeats"),
        )
    database, broker, search_report = await asyncio.gather(
        _database(services), _broker(runtime), _search(search)
    )
    workers = _workers(alive)
    breakers = tuple(
        BreakerReport(worker=w.id, backend=backend, state=state)
        for w in workers
        for backend, state in sorted(w.breakers.items())
    ) + _own_breakers(services, runtime_services)
    return SystemStatus(
        checked_at=utcnow(),
        queues=tuple(sorted(queues, key=lambda q: q.queue)),
        workers=workers,
        models=_models(workers),
        breakers=breakers,
        backends=(database, broker, search_report, _inference(workers, breakers)),
        routing=routing_report(services.settings),
    )

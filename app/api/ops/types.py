"""SystemStatus and its parts (bounded lists: one entry per queue, backend or live worker)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from app.api.fields import field
from app.api.ops.status import (
    BackendReport,
    BreakerReport,
    ModelReport,
    RouteReport,
    SystemStatus,
    WorkerReport,
)
from app.core.telemetry import QueueStat


@strawberry.enum(name="BreakerState", description="State of a circuit breaker in front of a model backend.")
class BreakerState(enum.Enum):
    """The states of ``inference.breaker.BreakerState`` (same values)."""

    CLOSED = strawberry.enum_value("closed", description="Healthy: calls go to the backend.")
    OPEN = strawberry.enum_value(
        "open",
        description="Failing: calls are refused at once (a fallback serves them) until a cool-down ends.",
    )
    HALF_OPEN = strawberry.enum_value(
        "half_open", description="Cool-down over: trial calls test whether the backend recovered."
    )


@strawberry.type(name="QueueStatus", description="One job queue as the broker reports it.")
class QueueStatusType:
    """GraphQL view of a queue probe."""

    stat: strawberry.Private[QueueStat]

    @field(description="Queue name (realtime or batch).")
    def name(self) -> str:
        return self.stat.queue

    @field(description="Messages waiting: ready plus delayed (retries waiting for their backoff).")
    def depth(self) -> int:
        return self.stat.depth

    @field(description="Age in seconds of the oldest ready message (0 when none is waiting).")
    def oldest_message_age_seconds(self) -> float:
        return round(self.stat.oldest_age_s, 3)

    @field(description="Messages in the queue's dead letters (failed for good).")
    def dead_letters(self) -> int:
        return self.stat.dead_letters


@strawberry.type(name="WorkerStatus", description="A worker process that sent a heartbeat recently.")
class WorkerStatusType:
    """GraphQL view of one worker heartbeat."""

    report: strawberry.Private[WorkerReport]

    @field(description="host:pid of the worker (the lease owner its stages show).")
    def id(self) -> str:
        return self.report.id

    @field(description="Seconds since its last heartbeat.")
    def last_seen_seconds_ago(self) -> float:
        return self.report.seen_s_ago

    @field(description="Models (name:version) it has loaded.")
    def models_loaded(self) -> list[str]:
        return list(self.report.models)


@strawberry.type(name="ModelStatus", description="A model version loaded by live workers.")
class ModelStatusType:
    """GraphQL view of a loaded model."""

    report: strawberry.Private[ModelReport]

    @field(description="Model name.")
    def name(self) -> str:
        return self.report.name

    @field(description="Model version.")
    def version(self) -> str:
        return self.report.version

    @field(description="How many live workers have it loaded.")
    def workers(self) -> int:
        return self.report.workers


@strawberry.type(name="BreakerStatus", description="The circuit breaker of a model backend in one worker.")
class BreakerStatusType:
    """GraphQL view of a breaker."""

    report: strawberry.Private[BreakerReport]

    @field(
        description=(
            "Worker that holds the breaker; api:<host>:<pid> for the API process answering "
            "(its model embeds search queries)."
        )
    )
    def worker(self) -> str:
        return self.report.worker

    @field(description="Backend the breaker guards (triton).")
    def backend(self) -> str:
        return self.report.backend

    @field(description="Closed: calls go to the backend; open: they fall back; half-open: probing.")
    def state(self) -> BreakerState:
        return BreakerState(self.report.state)


@strawberry.type(name="BackendHealth", description="Whether one backend the service depends on works.")
class BackendHealthType:
    """GraphQL view of one health check."""

    report: strawberry.Private[BackendReport]

    @field(description="database, broker, search or inference.")
    def name(self) -> str:
        return self.report.name

    @field(description="True when it works; null when this process cannot tell (see detail).")
    def healthy(self) -> bool | None:
        return self.report.healthy

    @field(description="What was found, without hosts or credentials.")
    def detail(self) -> str:
        return self.report.detail


@strawberry.type(
    name="RoutingRule", description="Which model serves a task on a queue, and when its output escalates."
)
class RoutingRuleType:
    """GraphQL view of one route of the routing policy."""

    report: strawberry.Private[RouteReport]

    @field(description="The model task (transcribe).")
    def task(self) -> str:
        return self.report.task

    @field(description="The job queue (realtime or batch).")
    def queue(self) -> str:
        return self.report.queue

    @field(description="Model (name:version) of the first pass of this task's jobs on this queue.")
    def model(self) -> str:
        return self.report.model

    @field(description="Model (name:version) low-confidence output is re-run on; null: no escalation.")
    def escalates_to(self) -> str | None:
        return self.report.escalates_to

    @field(description="When output counts as low-confidence (calibrated thresholds); null: no escalation.")
    def escalation_rule(self) -> str | None:
        return self.report.escalation_rule

    @field(
        description="Where the escalation runs: followup (an ESCALATION job on the batch queue once the job "
        "completes, so first results come as fast as the fast model alone) or inline (inside the job's "
        "own stage); null: no escalation."
    )
    def escalation(self) -> str | None:
        return self.report.escalation

    @field(
        description="Model (name:version) the idle-time upgrade pass re-runs this queue's output on (an "
        "ACCURATE job while the batch queue is idle); null: no upgrade pass for it."
    )
    def upgrades_to(self) -> str | None:
        return self.report.upgrades_to


@strawberry.type(name="SystemStatus", description="The deployment's health as this API process sees it.")
class SystemStatusType:
    """GraphQL view of ``collect_status``."""

    status: strawberry.Private[SystemStatus]

    @field(description="When the checks ran.")
    def checked_at(self) -> datetime:
        return self.status.checked_at

    @field(description="Every job queue, by name.")
    def queues(self) -> list[QueueStatusType]:
        return [QueueStatusType(stat=q) for q in self.status.queues]

    @field(description="How many worker processes sent a heartbeat in the last 30 seconds.")
    def workers_alive(self) -> int:
        return len(self.status.workers)

    @field(description="The live worker processes, by id.")
    def workers(self) -> list[WorkerStatusType]:
        return [WorkerStatusType(report=w) for w in self.status.workers]

    @field(description="Model versions the live workers have loaded.")
    def models_loaded(self) -> list[ModelStatusType]:
        return [ModelStatusType(report=m) for m in self.status.models]

    @field(description="Database, broker, search and inference, in that order.")
    def backends(self) -> list[BackendHealthType]:
        return [BackendHealthType(report=b) for b in self.status.backends]

    @field(description="The routing policy: per task and queue, the model and its escalation rule.")
    def routing(self) -> list[RoutingRuleType]:
        return [RoutingRuleType(report=r) for r in self.status.routing]

    @field(description="Circuit breakers of the live workers' model backends, and of this API process's.")
    def breakers(self) -> list[BreakerStatusType]:
        return [BreakerStatusType(report=b) for b in self.status.breakers]

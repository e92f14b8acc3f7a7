"""jobProgress: a job's state now, then every change until it ends."""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry

from app.api.context import Info
from app.api.enums import JobStatus, StageStatus
from app.api.fields import field, subscription
from app.api.ids import decode_id, to_global_id
from app.api.jobs.types import JobType
from app.api.node import resolve_node
from app.api.streams import RESYNC_WINDOW_S, events_or_silence, shared_coalescer
from app.core.db import utcnow
from app.core.errors import NotFoundError
from app.core.events import job_channel
from app.jobs.models import Job
from app.jobs.repository import jobs_by_id

log = logging.getLogger(__name__)

FINAL_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@strawberry.enum(name="JobProgressEventKind", description="What a job progress event reports.")
class JobProgressEventKind(enum.Enum):
    """The job system's event types, plus SNAPSHOT (the state when the subscription started)."""

    SNAPSHOT = strawberry.enum_value(
        "snapshot", description="The job as stored when the subscription started (always first)."
    )
    JOB_QUEUED = strawberry.enum_value("job_queued", description="The job was queued again.")
    STAGE_STARTED = strawberry.enum_value(
        "stage_started", description="A stage started on a worker (again, after a retry)."
    )
    PROGRESS = strawberry.enum_value("progress", description="A running stage reported progress.")
    STAGE_COMPLETED = strawberry.enum_value("stage_completed", description="A stage succeeded.")
    STAGE_RETRYING = strawberry.enum_value(
        "stage_retrying",
        description="A stage failed transiently (see errorCode) and runs again after a backoff.",
    )
    STAGE_FAILED = strawberry.enum_value(
        "stage_failed", description="A stage failed for good (see errorCode); JOB_FAILED follows."
    )
    STAGE_CANCELLED = strawberry.enum_value(
        "stage_cancelled",
        description="A stage was stopped, or will not run, because the job was cancelled; "
        "JOB_CANCELLED follows.",
    )
    JOB_COMPLETED = strawberry.enum_value("job_completed", description="The job succeeded (the last event).")
    JOB_FAILED = strawberry.enum_value("job_failed", description="The job failed (the last event).")
    JOB_CANCELLED = strawberry.enum_value(
        "job_cancelled", description="The job was cancelled (the last event)."
    )


_FINAL_KIND = {
    JobStatus.SUCCEEDED: JobProgressEventKind.JOB_COMPLETED,
    JobStatus.FAILED: JobProgressEventKind.JOB_FAILED,
    JobStatus.CANCELLED: JobProgressEventKind.JOB_CANCELLED,
}
_FINAL_KINDS = frozenset(_FINAL_KIND.values())


@strawberry.type(
    name="JobProgressEvent",
    description="One change of a job: a stage starting, progressing, finishing or failing, "
    "or the job ending.",
)
class JobProgressEvent:
    """An event of the jobProgress subscription."""

    kind: JobProgressEventKind = strawberry.field(description="What happened.")
    job_id: strawberry.ID = strawberry.field(description="The job.")
    job_status: JobStatus = strawberry.field(description="The job's status after the change.")
    job_progress: float = strawberry.field(
        description="The job's overall progress (0 to 1) after the change."
    )
    current_stage: str | None = strawberry.field(description="The stage running after the change, if any.")
    stage: str | None = strawberry.field(
        description="The stage the event is about (null for job-level events)."
    )
    stage_status: StageStatus | None = strawberry.field(description="That stage's status after the change.")
    stage_progress: float | None = strawberry.field(description="That stage's progress (0 to 1).")
    stage_attempts: int | None = strawberry.field(description="How many times that stage has been started.")
    error_code: str | None = strawberry.field(description="Code of the failure, for failure events.")
    error_message: str | None = strawberry.field(description="Message of the failure, for failure events.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    row_id: strawberry.Private[uuid.UUID]

    @field(
        description="The job as stored now (read when this event is delivered): stages and all. "
        "Select it on SNAPSHOT to start from the full state."
    )
    async def job(self, info: Info) -> JobType | None:
        row = await info.context.loaders.jobs.job_by_id.load(self.row_id)
        return JobType.from_row(row) if row is not None else None

    @classmethod
    def snapshot(
        cls, job: Job, kind: JobProgressEventKind = JobProgressEventKind.SNAPSHOT
    ) -> JobProgressEvent:
        """The event describing ``job`` as stored."""
        return cls(
            kind=kind,
            job_id=strawberry.ID(to_global_id("Job", job.id)),
            job_status=job.status,
            job_progress=job.progress,
            current_stage=job.current_stage,
            stage=None,
            stage_status=None,
            stage_progress=None,
            stage_attempts=None,
            error_code=job.error_code,
            error_message=job.error_message,
            occurred_at=job.updated_at,
            row_id=job.id,
        )

    @classmethod
    def from_event(cls, job_id: uuid.UUID, event: dict[str, Any]) -> JobProgressEvent | None:
        """The event of a published payload (app/jobs/events.py); None if it is not one."""
        try:
            kind = JobProgressEventKind(event["type"])
            stage_status = event.get("stage_status")
            occurred = event.get("at")
            return cls(
                kind=kind,
                job_id=strawberry.ID(to_global_id("Job", job_id)),
                job_status=JobStatus(event["status"]),
                job_progress=float(event.get("progress") or 0.0),
                current_stage=event.get("current_stage"),
                stage=event.get("stage"),
                stage_status=StageStatus(stage_status) if stage_status else None,
                stage_progress=_float_or_none(event.get("stage_progress")),
                stage_attempts=int(event["attempts"]) if event.get("attempts") is not None else None,
                error_code=event.get("error_code"),
                error_message=event.get("error_message"),
                occurred_at=datetime.fromisoformat(occurred) if isinstance(occurred, str) else utcnow(),
                row_id=job_id,
            )
        except (KeyError, ValueError, TypeError):
            log.warning("ignoring a malformed job event", extra={"job_id": str(job_id), "event": event})
            return None

    @property
    def is_final(self) -> bool:
        """Whether nothing follows: the event that ended the job, or the snapshot of an ended
        job. Not the job's status alone: the STAGE_CANCELLED events of a cancellation already
        carry the job as CANCELLED, and JOB_CANCELLED comes after them."""
        if self.kind is JobProgressEventKind.SNAPSHOT:
            return self.job_status in FINAL_JOB_STATUSES
        return self.kind in _FINAL_KINDS


def _float_or_none(value: Any) -> float | None:
    return float(value) if value is not None else None


@strawberry.type
class JobSubscriptions:
    """Root subscription fields of jobs."""

    @subscription(
        description="A job's progress: first a SNAPSHOT of its current state (a late subscriber misses "
        "nothing), then every stage start, progress step, completion and failure, ending with the "
        "event that puts the job in a final state. A job already finished yields its SNAPSHOT and ends."
    )
    async def job_progress(
        self,
        info: Info,
        job_id: Annotated[strawberry.ID, strawberry.argument(description="The job to follow.")],
    ) -> AsyncGenerator[JobProgressEvent, None]:
        ctx = info.context
        row_id = decode_id(job_id, "Job", field=["jobId"])
        # Subscribe before reading the state: an event published in between is then delivered
        # after the snapshot (harmless: events carry absolute values) instead of being lost.
        async with ctx.services.publisher.subscribe(job_channel(row_id)) as events:
            ctx.loaders.clear()
            job = await _current(info, job_id)
            current = JobProgressEvent.snapshot(job)
            yield current
            if current.is_final:
                return
            resync = shared_coalescer(ctx.services, "job-resync", jobs_by_id, window_s=RESYNC_WINDOW_S)
            async for payload in events_or_silence(events):
                # Per-event reads must see the database as it is now, not the connection's cache.
                ctx.loaders.clear()
                if payload is None:
                    # One statement for every subscription re-syncing in the same window.
                    found: Job | None = await resync.load((ctx.caller.tenant_id, row_id))
                    if found is None:
                        raise NotFoundError(f"job {job_id} not found", field=["jobId"])
                    job = found
                    if job.status in FINAL_JOB_STATUSES:
                        yield JobProgressEvent.snapshot(job, _FINAL_KIND[job.status])
                        return
                    continue
                event = JobProgressEvent.from_event(row_id, payload)
                if event is None:
                    continue
                yield event
                if event.is_final:
                    return


async def _current(info: Info, job_id: str) -> Job:
    node: JobType | None = await resolve_node(info, job_id, field=["jobId"], expected="Job")
    if node is None:
        raise NotFoundError(f"job {job_id} not found", field=["jobId"])
    return node.row

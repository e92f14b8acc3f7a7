"""Recording a run: its progress, and how it ended (succeeded with its outputs, failed,
queued for a retry, stopped by a cancellation). Each is one transaction under the job's
lock that writes the stage only while the run still holds its lease, and returns the events
to publish after the commit, so a subscriber never hears of a change a rollback undid."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.container import Enqueuer, Services
from app.core.db import session_scope, utcnow
from app.core.enums import AssetStatus, StageStatus
from app.core.telemetry import cost
from app.core.telemetry.model_usage import ModelUsage, accumulated
from app.jobs import repository
from app.jobs import service as jobs
from app.jobs.events import EventType, job_event
from app.jobs.models import Job, JobStage
from jobs.registry import JobCancelled, LeaseLost, StageInterrupted, StageOutput
from jobs.runner.leases import Claim

log = logging.getLogger(__name__)

Events = list[dict[str, Any]]


def _ended(started: float) -> dict[str, Any]:
    """The columns of a run that ended now and holds no lease any more."""
    return {
        "finished_at": utcnow(),
        "duration_s": round(time.monotonic() - started, 3),
        "lease_owner": None,
        "lease_expires_at": None,
    }


def add_cost(job: Job, stage_cost: Mapping[str, Any] | None) -> None:
    """Add one stage run's priced cost into ``Job.cost`` (the job row accumulates it: the
    stages of one job may run in different processes)."""
    if stage_cost:
        job.cost = cost.merge(job.cost or {}, stage_cost, cost.default_prices())


def _row(stages: list[JobStage], claim: Claim) -> JobStage:
    return next(s for s in stages if s.id == claim.stage.id)


def add_model_usage(stage: JobStage, run: Sequence[ModelUsage], *, kept: bool) -> None:
    """Add one run's per-model usage into the stage row's (every run's resources count, like
    ``Job.cost``; the quality only of a run whose outputs were ``kept``)."""
    if run:
        stage.model_usage = accumulated(
            stage.model_usage or [], run if kept else [usage.unkept() for usage in run]
        )


async def record_success(
    services: Services,
    enqueuer: Enqueuer,
    claim: Claim,
    output: StageOutput,
    *,
    started: float,
    stage_cost: Mapping[str, Any] | None,
    model_usage: Sequence[ModelUsage] = (),
) -> tuple[Events, dict[str, Any] | None]:
    """Mark the stage SUCCEEDED with its outputs, queue what became runnable, finish the job
    when nothing is left. Returns the events and, when this finished the job, its total cost.

    A job that completes with a ``follow_up`` queues it (``jobs.queue_follow_up``) in the same
    transaction.

    Raises LeaseLost when another worker owns the stage now: its run decides, nothing is written.
    """
    events: Events = []
    async with session_scope(services.session_factory) as session:
        job = await repository.lock_job(session, job_id=claim.job.id)
        if job is None or not await repository.update_owned_stage(
            session,
            stage_id=claim.stage.id,
            owner=claim.owner,
            values={
                **_ended(started),
                "status": StageStatus.SUCCEEDED,
                "progress": 1.0,
                "error_code": None,
                "error_message": None,
                "model_versions": dict(output.model_versions),
            },
        ):
            raise LeaseLost()
        if output.write is not None:
            await output.write(session)
        if output.follow_up is not None:
            job.follow_up = output.follow_up
        add_cost(job, stage_cost)
        stages = await repository.stages_of(session, job.id)
        add_model_usage(_row(stages, claim), model_usage, kept=True)
        if job.status not in repository.ACTIVE_JOB_STATUSES:
            # The job failed or was cancelled meanwhile (a parallel stage): the outputs are
            # valid and kept, but nothing new starts.
            events.append(job_event(EventType.STAGE_COMPLETED, job, _row(stages, claim)))
            return events, None
        jobs.refresh_progress(job, stages)
        events.append(job_event(EventType.STAGE_COMPLETED, job, _row(stages, claim)))
        if jobs.finalize_if_done(job, stages):
            await jobs.set_asset_status(session, job=job, status=AssetStatus.READY, enqueuer=enqueuer)
            events.append(job_event(EventType.JOB_COMPLETED, job))
            await jobs.queue_follow_up(session, services=services, job=job)
            return events, dict(job.cost)
        jobs.enqueue_runnable(session, enqueuer, job=job, stages=stages)
        running = [s.name for s in stages if s.status == StageStatus.RUNNING]
        job.current_stage = running[0] if running else None
    return events, None


async def record_failure(
    session_factory: async_sessionmaker[AsyncSession],
    claim: Claim,
    code: str,
    message: str,
    *,
    started: float,
    stage_cost: Mapping[str, Any] | None = None,
    enqueuer: Enqueuer | None = None,
    model_usage: Sequence[ModelUsage] = (),
) -> Events:
    """Fail the stage and its job with ``code`` (``enqueuer`` sends the job.failed webhooks)."""
    events: Events = []
    async with session_scope(session_factory) as session:
        job = await repository.lock_job(session, job_id=claim.job.id)
        if job is None:
            return events
        held = await repository.update_owned_stage(
            session,
            stage_id=claim.stage.id,
            owner=claim.owner,
            values={
                **_ended(started),
                "status": StageStatus.FAILED,
                "error_code": code,
                "error_message": message,
            },
        )
        if not held:
            log.warning("stage %s of job %s failed after its lease was lost", claim.stage.name, claim.job.id)
            return events
        add_cost(job, stage_cost)  # a failed run used resources too
        stages = await repository.stages_of(session, job.id)
        row = _row(stages, claim)
        add_model_usage(row, model_usage, kept=False)
        events.append(job_event(EventType.STAGE_FAILED, job, row))
        if job.status in repository.ACTIVE_JOB_STATUSES:
            jobs.mark_failed(job, stages, stage=row.name, code=code, message=message)
            await jobs.set_asset_status(session, job=job, status=AssetStatus.FAILED, enqueuer=enqueuer)
            events.append(job_event(EventType.JOB_FAILED, job))
    log.warning("stage %s of job %s failed: %s: %s", claim.stage.name, claim.job.id, code, message)
    return events


async def record_retry(
    session_factory: async_sessionmaker[AsyncSession],
    claim: Claim,
    code: str,
    message: str,
    *,
    delay_ms: int,
    stage_cost: Mapping[str, Any] | None,
    model_usage: Sequence[ModelUsage] = (),
) -> Events:
    """Put the stage back to QUEUED with the transient failure; its retry is due in ``delay_ms``."""
    events: Events = []
    async with session_scope(session_factory) as session:
        job = await repository.lock_job(session, job_id=claim.job.id)
        held = job is not None and await repository.update_owned_stage(
            session,
            stage_id=claim.stage.id,
            owner=claim.owner,
            values={
                "status": StageStatus.QUEUED,
                "error_code": code,
                "error_message": message,
                "lease_owner": None,
                "lease_expires_at": None,
                # When the retry is due: the sweeper counts a lost message from here.
                "enqueued_at": utcnow() + timedelta(milliseconds=delay_ms),
            },
        )
        if held and job is not None:
            add_cost(job, stage_cost)
            stages = await repository.stages_of(session, job.id)
            add_model_usage(_row(stages, claim), model_usage, kept=False)
            events.append(job_event(EventType.STAGE_RETRYING, job, _row(stages, claim)))
    return events


async def record_cancellation(session_factory: async_sessionmaker[AsyncSession], claim: Claim) -> Events:
    """The job was cancelled while the stage ran: cancel what is left of it."""
    events: Events = []
    async with session_scope(session_factory) as session:
        job = await repository.lock_job(session, job_id=claim.job.id)
        if job is None:
            return events
        stages = await repository.stages_of(session, job.id)
        if job.status in repository.ACTIVE_JOB_STATUSES:
            for cancelled in jobs.mark_cancelled(job, stages):
                events.append(job_event(EventType.STAGE_CANCELLED, job, cancelled))
            await jobs.set_asset_status(session, job=job, status=jobs.asset_status_after_stop(job))
            events.append(job_event(EventType.JOB_CANCELLED, job))
    log.info("job %s cancelled during stage %s", claim.job.id, claim.stage.name)
    return events


async def record_progress(
    session_factory: async_sessionmaker[AsyncSession], claim: Claim, fraction: float
) -> tuple[dict[str, Any] | None, StageInterrupted | None]:
    """Write the stage's progress and the job's: the event to publish, or why the stage must
    stop (its lease was lost, its job is being cancelled)."""
    async with session_scope(session_factory) as session:
        job = await repository.lock_job(session, job_id=claim.job.id)
        if job is None or not await repository.update_owned_stage(
            session, stage_id=claim.stage.id, owner=claim.owner, values={"progress": fraction}
        ):
            return None, LeaseLost()
        if job.cancel_requested_at is not None:
            return None, JobCancelled()
        stages = await repository.stages_of(session, job.id)
        jobs.refresh_progress(job, stages)
        return job_event(EventType.PROGRESS, job, _row(stages, claim)), None

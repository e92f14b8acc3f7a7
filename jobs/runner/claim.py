"""Claiming a stage: one transaction that locks the job, decides whether this message has
anything to run, and takes the stage's lease with a conditional UPDATE.

A duplicate or redelivered message finds the stage running or finished and changes nothing.
A stage whose last run vanished (its lease expired) and whose attempts are used up is failed
with ``STAGE_CRASHED`` instead of being run again: a file that kills its worker on every
attempt stops here, for good.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets import stage_repository as assets
from app.core.db import session_scope, utcnow
from app.core.enums import AssetStatus, JobStatus, StageStatus
from app.jobs import repository
from app.jobs import service as jobs
from app.jobs.errors import STAGE_CRASHED, PermanentStageError
from app.jobs.events import EventType, job_event
from app.jobs.models import Job, JobStage
from app.jobs.pipeline import PIPELINES
from jobs.runner.leases import Claim, lease_alive, vanished
from jobs.runner.policy import RetryPolicy

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ClaimOutcome:
    """What the claim transaction decided; ``events`` are published after its commit."""

    claim: Claim | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    # Set when the stage was failed for good (STAGE_CRASHED): the message is dead-lettered.
    crashed: PermanentStageError | None = None


async def claim_stage(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    job_id: uuid.UUID,
    name: str,
    worker_id: str,
    lease: timedelta,
    policy: RetryPolicy,
) -> ClaimOutcome:
    """Take the lease of stage ``name`` of the job, or decide that there is nothing to run."""
    outcome = ClaimOutcome()
    async with session_scope(session_factory) as session:
        job = await repository.lock_job(session, job_id=job_id)
        if job is None:
            log.warning("stage %s of job %s: no such job; message dropped", name, job_id)
            return outcome
        stages = await repository.stages_of(session, job.id)
        row = next((s for s in stages if s.name == name), None)
        if row is None:
            log.warning("job %s has no stage %r; message dropped", job_id, name)
            return outcome
        if job.status not in repository.ACTIVE_JOB_STATUSES:
            log.info("stage %s of job %s: job is %s; message ignored", name, job_id, job.status.value)
            return outcome
        now = utcnow()
        if job.cancel_requested_at is not None:
            await _finish_cancellation(session, job, stages, now, outcome.events)
        elif not _may_run(job, stages, row, now):
            return outcome
        elif vanished(row) and row.attempts >= policy.attempts_allowed(name, job):
            outcome.crashed = await _give_up(session, job, stages, row, now, outcome.events)
        else:
            owner = f"{worker_id}/{uuid.uuid4().hex[:12]}"
            outcome.claim = await _take_lease(
                session, job, stages, row, now=now, owner=owner, lease=lease, events=outcome.events
            )
    return outcome


async def _finish_cancellation(
    session: AsyncSession, job: Job, stages: list[JobStage], now: datetime, events: list[dict[str, Any]]
) -> None:
    """Cancellation is honoured between stages: nothing new starts. Whoever sees no live
    stage left finishes it."""
    if any(lease_alive(s, now) for s in stages):
        return
    for cancelled in jobs.mark_cancelled(job, stages):
        events.append(job_event(EventType.STAGE_CANCELLED, job, cancelled))
    await jobs.set_asset_status(session, job=job, status=jobs.asset_status_after_stop(job))
    events.append(job_event(EventType.JOB_CANCELLED, job))


def _may_run(job: Job, stages: list[JobStage], row: JobStage, now: datetime) -> bool:
    """Whether the stage is waiting for a worker (else this message is a duplicate or early)."""
    if lease_alive(row, now):
        log.info(
            "stage %s of job %s is running elsewhere (lease %s until %s): duplicate message ignored",
            row.name,
            job.id,
            row.lease_owner,
            row.lease_expires_at,
        )
        return False
    if row.status not in (StageStatus.PENDING, StageStatus.QUEUED, StageStatus.RUNNING):
        log.info("stage %s of job %s is %s: duplicate message ignored", row.name, job.id, row.status.value)
        return False
    if not jobs.dependencies_done(PIPELINES[job.pipeline], stages, row.name):
        # Sent early (a sweeper racing a completion): the completion of the last upstream
        # stage queues it again.
        log.info("stage %s of job %s waits for upstream stages; message ignored", row.name, job.id)
        return False
    return True


async def _give_up(
    session: AsyncSession,
    job: Job,
    stages: list[JobStage],
    row: JobStage,
    now: datetime,
    events: list[dict[str, Any]],
) -> PermanentStageError | None:
    """Fail a stage whose runs keep vanishing (STAGE_CRASHED); None when its owner renewed
    the lease meanwhile (that run decides)."""
    if row.status == StageStatus.RUNNING:
        why = repository.lease_expired_message(row.lease_owner, row.attempts)
    else:
        why = row.error_message or repository.lease_expired_message(None, row.attempts)
    message = f"{why} (gave up after {row.attempts} attempts)"
    if not await repository.fail_unleased_stage(
        session, stage_id=row.id, now=now, code=STAGE_CRASHED, message=message
    ):
        log.info("stage %s of job %s was renewed by its owner; message ignored", row.name, job.id)
        return None
    await session.refresh(row)
    jobs.mark_failed(job, stages, stage=row.name, code=STAGE_CRASHED, message=message)
    await jobs.set_asset_status(session, job=job, status=AssetStatus.FAILED)
    events.append(job_event(EventType.STAGE_FAILED, job, row))
    events.append(job_event(EventType.JOB_FAILED, job))
    log.error("stage %s of job %s failed: %s: %s", row.name, job.id, STAGE_CRASHED, message)
    return PermanentStageError(STAGE_CRASHED, message)


async def _take_lease(
    session: AsyncSession,
    job: Job,
    stages: list[JobStage],
    row: JobStage,
    *,
    now: datetime,
    owner: str,
    lease: timedelta,
    events: list[dict[str, Any]],
) -> Claim | None:
    """Take the lease (None when another worker was first) and mark the job running."""
    if not await repository.claim_stage(
        session, stage_id=row.id, owner=owner, now=now, lease_until=now + lease
    ):
        log.info("stage %s of job %s was claimed by another worker first", row.name, job.id)
        return None
    await session.refresh(row)
    job.status = JobStatus.RUNNING
    job.started_at = job.started_at or now
    jobs.refresh_progress(job, stages)
    job.current_stage = row.name
    await jobs.set_asset_status(session, job=job, status=AssetStatus.PROCESSING)
    asset = await assets.get_for_job(session, asset_id=job.asset_id)
    if asset is None:  # the FK cascade deletes jobs with their asset
        return None
    events.append(job_event(EventType.STAGE_STARTED, job, row))
    log.info("stage %s of job %s started (attempt %d, lease %s)", row.name, job.id, row.attempts, owner)
    return Claim(job=job, asset=asset, stage=row, owner=owner)

"""The sweeper: the database, not the broker, remembers what is left to do.

It runs periodically in every worker process and in ``mediakg serve``, and re-sends:
- stages whose lease expired (their worker died, was killed or hangs), recording the crash on
  the row (``STAGE_CRASHED``); once the stage's attempts are used up, the worker receiving
  the re-sent message fails the stage instead of running it (a poisoned file that kills its
  worker is not retried forever);
- QUEUED stages whose message was sent ``stage_message_lost_seconds`` ago and never started
  (the broker lost it: flushed, restarted, or the send after commit failed);
- PENDING stages that are runnable but were never sent (created without a broker);
and finishes jobs whose cancellation or completion nobody recorded. Several sweepers may
run at once: each job is handled under its row lock, and a duplicate message is harmless
(the stage guard runs a stage once).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.container import Enqueuer, Services
from app.core.db import session_scope, utcnow
from app.core.enums import AssetStatus, StageStatus
from app.jobs import repository
from app.jobs import service as jobs
from app.jobs.errors import STAGE_CRASHED
from app.jobs.events import EventType
from app.jobs.models import Job, JobStage
from app.webhooks import service as webhooks
from inference.registry import default_registry
from inference.routing import resolve_model
from jobs.runner.leases import lease_alive

log = logging.getLogger(__name__)

# Jobs handled per sweep: bounds one sweep's work; the next sweep continues.
SWEEP_BATCH = 200
# A job with nothing in motion is left alone this long, so the sweeper does not act on
# a state another transaction is just moving through.
_SETTLE = timedelta(seconds=1)


@dataclass(slots=True)
class SweepReport:
    """What one sweep did."""

    examined: int = 0
    resent: list[tuple[str, str]] = field(default_factory=list)
    expired: list[tuple[str, str]] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    webhooks_resent: int = 0
    # Id of the ACCURATE job queued for an asset still on the fast model's transcript, if any.
    upgrade_queued: str | None = None


async def sweep_once(
    services: Services, enqueuer: Enqueuer, *, lost_after: timedelta | None = None, limit: int = SWEEP_BATCH
) -> SweepReport:
    """One pass over the active jobs that need attention."""
    if lost_after is None:
        lost_after = timedelta(seconds=services.settings.stage_message_lost_seconds)
    report = SweepReport()
    now = utcnow()
    async with session_scope(services.session_factory) as session:
        job_ids = await repository.sweep_candidates(
            session, now=now, lost_before=now - lost_after, settle_before=now - _SETTLE, limit=limit
        )
    for job_id in job_ids:
        report.examined += 1
        async with session_scope(services.session_factory) as session:
            await _sweep_job(session, services, enqueuer, job_id=job_id, lost_after=lost_after, report=report)
    async with session_scope(services.session_factory) as session:
        report.webhooks_resent = await webhooks.resend_due(session, enqueuer, lost_after=lost_after)
    report.upgrade_queued = await upgrade_when_idle(services)
    if report.resent or report.expired or report.finished:
        log.info(
            "sweep: %d re-sent, %d expired leases taken back, %d jobs finished",
            len(report.resent),
            len(report.expired),
            len(report.finished),
        )
    return report


async def upgrade_when_idle(services: Services) -> str | None:
    """The upgrade pass (``routing.transcribe.upgrade_when_idle``): while the batch queue is
    idle, queue an ACCURATE job for the oldest asset whose transcript is a fast model's; the id
    of the job queued, if one was."""
    policy = services.settings.routing.transcribe
    if not policy.upgrade_when_idle:
        return None
    registry = default_registry()
    accurate = resolve_model(registry, "transcribe", policy.accurate)
    fast = [(spec.name, spec.version) for spec in registry.for_task("transcribe") if spec != accurate]
    async with session_scope(services.session_factory) as session:
        job = await jobs.queue_idle_upgrade(session, services=services, fast_models=fast)
        if job is None:
            return None
        log.info("batch queue idle: upgrade job %s queued for asset %s", job.id, job.asset_id)
        return str(job.id)


async def _sweep_job(
    session: AsyncSession,
    services: Services,
    enqueuer: Enqueuer,
    *,
    job_id: uuid.UUID,
    lost_after: timedelta,
    report: SweepReport,
) -> None:
    """Under the job's lock: finish its cancellation, or re-send what is lost and finish it
    when nothing is left."""
    job = await repository.lock_job(session, job_id=job_id)
    if job is None or job.status not in repository.ACTIVE_JOB_STATUSES:
        return
    stages = await repository.stages_of(session, job.id)
    now = utcnow()
    if job.cancel_requested_at is not None:
        if not any(lease_alive(stage, now) for stage in stages):
            for stage in jobs.mark_cancelled(job, stages):
                jobs.publish_after_commit(session, services.publisher, EventType.STAGE_CANCELLED, job, stage)
            await jobs.set_asset_status(session, job=job, status=jobs.asset_status_after_stop(job))
            jobs.publish_after_commit(session, services.publisher, EventType.JOB_CANCELLED, job)
            report.finished.append(str(job.id))
        return
    for stage in stages:
        if stage.status == StageStatus.RUNNING and stage.lease_expires_at and stage.lease_expires_at < now:
            if await _take_back(session, enqueuer, job, stage, now=now):
                jobs.publish_after_commit(session, services.publisher, EventType.STAGE_RETRYING, job, stage)
                report.expired.append((str(job.id), stage.name))
        elif stage.status == StageStatus.QUEUED and (
            stage.enqueued_at is None or stage.enqueued_at < now - lost_after
        ):
            log.warning(
                "stage %s of job %s queued since %s never started; re-sending",
                stage.name,
                job.id,
                stage.enqueued_at,
            )
            jobs.send_stage(session, enqueuer, job=job, stage=stage)
            report.resent.append((str(job.id), stage.name))
    for name in jobs.enqueue_runnable(session, enqueuer, job=job, stages=stages):
        report.resent.append((str(job.id), name))
    if jobs.finalize_if_done(job, stages):
        await jobs.set_asset_status(session, job=job, status=AssetStatus.READY, enqueuer=enqueuer)
        jobs.publish_after_commit(session, services.publisher, EventType.JOB_COMPLETED, job)
        await jobs.queue_follow_up(session, services=services, job=job)
        report.finished.append(str(job.id))


async def _take_back(
    session: AsyncSession, enqueuer: Enqueuer, job: Job, stage: JobStage, *, now: datetime
) -> bool:
    """Record the crash of a stage whose lease expired and re-send it; False when its owner
    renewed the lease meanwhile."""
    crash = repository.lease_expired_message(stage.lease_owner, stage.attempts)
    if not await repository.release_expired_lease(
        session, stage_id=stage.id, now=now, error_code=STAGE_CRASHED, error_message=crash
    ):
        return False
    log.warning(
        "stage %s of job %s: lease of %s expired (attempt %d); re-sending",
        stage.name,
        job.id,
        stage.lease_owner,
        stage.attempts,
    )
    stage.lease_owner = None
    stage.lease_expires_at = None
    stage.error_code = STAGE_CRASHED
    stage.error_message = crash
    # Re-sent even when its attempts are used up: the worker that receives it fails the stage
    # with STAGE_CRASHED (it knows the stage's retry budget) and Dramatiq dead-letters that
    # message (jobs/runner/claim.py).
    jobs.send_stage(session, enqueuer, job=job, stage=stage)
    return True


async def run_sweeper(
    services: Services,
    enqueuer: Enqueuer,
    stop: asyncio.Event,
    *,
    first_lost_after: timedelta | None = None,
    reports: list[SweepReport] | None = None,
) -> None:
    """Sweep every ``sweeper_interval_seconds`` (with jitter) until ``stop`` is set.

    ``first_lost_after`` overrides the lost-message threshold of the first sweep: with the
    in-process broker every message queued before this process started is certainly gone.
    """
    interval = services.settings.sweeper_interval_seconds
    lost_after = first_lost_after
    while not stop.is_set():
        try:
            report = await sweep_once(services, enqueuer, lost_after=lost_after)
            if reports is not None:
                reports.append(report)
        except Exception:
            log.exception("sweep failed; retrying at the next interval")
        lost_after = None
        # Jitter keeps the sweepers of many workers from hitting the database in lockstep.
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval * random.uniform(0.8, 1.2))
        except TimeoutError:
            pass

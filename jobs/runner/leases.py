"""Leases: which worker holds a stage, keeping the lease while the stage runs, and giving the
stage back.

A claim takes the lease for ``stage_lease_seconds``; while the stage runs, a heartbeat
renews it and notices a cancellation or a takeover. A worker that dies stops renewing, the
lease expires, and the sweeper (or a redelivery) lets another worker take the stage over.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset
from app.core.container import Enqueuer
from app.core.db import session_scope, utcnow
from app.core.enums import StageStatus
from app.core.telemetry.spans import StageRun
from app.jobs import repository
from app.jobs import service as jobs
from app.jobs.errors import STAGE_CRASHED
from app.jobs.models import Job, JobStage
from jobs.registry import JobCancelled, LeaseLost, StageInterrupted, StageOutput

log = logging.getLogger(__name__)

# How long the end of a run waits for a lease renewal in flight (one short transaction).
HEARTBEAT_STOP_S = 5.0


@dataclass(slots=True)
class Claim:
    """A stage this worker holds the lease of."""

    job: Job
    asset: Asset
    stage: JobStage
    owner: str


@dataclass(slots=True)
class ActiveStage:
    """A stage running in this process."""

    claim: Claim
    task: asyncio.Task[StageOutput] | None = None
    abort: StageInterrupted | None = None
    # The stage function's telemetry; its priced cost is set when the function returns.
    run: StageRun | None = None
    last_report: float = 0.0
    last_fraction: float = -1.0
    # The stage's ``ctx.cancelled``: stops its ``run_sync`` threads, which task.cancel() cannot.
    cancelled: threading.Event = field(default_factory=threading.Event)
    # Set when the run has ended: its lease heartbeat stops.
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def interrupt(self, reason: StageInterrupted) -> None:
        """Stop the stage (on the event loop thread): the first reason wins."""
        if self.abort is None:
            self.abort = reason
            self.cancelled.set()
            if self.task is not None and not self.task.done():
                self.task.cancel()


def lease_alive(stage: JobStage, now: datetime) -> bool:
    """Whether a worker holds the stage at ``now``."""
    return (
        stage.status == StageStatus.RUNNING
        and stage.lease_expires_at is not None
        and stage.lease_expires_at >= now
    )


def vanished(stage: JobStage) -> bool:
    """Whether the stage's last run ended without a word: its lease expired (still RUNNING,
    or re-queued by the sweeper with STAGE_CRASHED). Call after ``lease_alive`` is false."""
    if stage.status == StageStatus.RUNNING:
        return True
    return stage.status == StageStatus.QUEUED and stage.error_code == STAGE_CRASHED


async def keep_lease(
    session_factory: async_sessionmaker[AsyncSession],
    active: ActiveStage,
    *,
    lease: timedelta,
    interval_s: float,
) -> None:
    """Renew the lease every ``interval_s`` until the run has ended; interrupt the stage when
    the job was cancelled or another worker took the stage over."""
    claim = active.claim
    while True:
        try:
            await asyncio.wait_for(active.ended.wait(), timeout=interval_s)
            return
        except TimeoutError:
            pass
        try:
            async with session_scope(session_factory) as session:
                held = await repository.update_owned_stage(
                    session,
                    stage_id=claim.stage.id,
                    owner=claim.owner,
                    values={"lease_expires_at": utcnow() + lease},
                )
                cancel = await repository.cancel_requested_at(session, job_id=claim.job.id)
        except Exception:
            # A database blip: try again next beat; if the lease runs out meanwhile,
            # another worker takes over and this run's completion is discarded.
            log.warning("lease heartbeat of %s failed", claim.owner, exc_info=True)
            continue
        if not held:
            log.warning(
                "stage %s of job %s: lease %s was taken over", claim.stage.name, claim.job.id, claim.owner
            )
            active.interrupt(LeaseLost())
            return
        if cancel is not None:
            active.interrupt(JobCancelled())
            return


async def stop_keeping(active: ActiveStage, heartbeat: asyncio.Task[None]) -> None:
    """End the heartbeat of a run that has ended, letting a renewal in flight finish (a
    database call cancelled halfway leaves its connection to be cleaned up by nobody)."""
    active.ended.set()
    await asyncio.wait({heartbeat}, timeout=HEARTBEAT_STOP_S)
    heartbeat.cancel()


async def release(
    session_factory: async_sessionmaker[AsyncSession],
    enqueuer: Enqueuer,
    claim: Claim,
    *,
    graceful: bool = False,
) -> None:
    """Give the stage back: QUEUED again and re-sent, for this or another worker.

    ``graceful`` (a shutdown that gave the stage its grace): the run is handed back
    unfinished, not failed, and its start is taken off ``attempts``, so a rolling deploy
    never spends a stage's retry or crash budget. Other releases keep the count: what cut
    them short may happen again."""
    try:
        async with session_scope(session_factory) as session:
            job = await repository.lock_job(session, job_id=claim.job.id)
            if job is None:
                return
            values: dict[str, Any] = {
                "status": StageStatus.QUEUED,
                "lease_owner": None,
                "lease_expires_at": None,
            }
            if graceful:
                values["attempts"] = max(0, claim.stage.attempts - 1)
            if claim.stage.error_code == STAGE_CRASHED:
                # Handed back in one piece: an earlier crash is no longer its last run.
                values.update(error_code=None, error_message=None)
            held = await repository.update_owned_stage(
                session, stage_id=claim.stage.id, owner=claim.owner, values=values
            )
            if held:
                row = await repository.get_stage(session, stage_id=claim.stage.id)
                if row is not None:
                    jobs.send_stage(session, enqueuer, job=job, stage=row)
        log.info("stage %s of job %s released", claim.stage.name, claim.job.id)
    except Exception:
        # The lease then simply expires and the sweeper re-sends the stage.
        log.exception("releasing stage %s of job %s failed", claim.stage.name, claim.job.id)

"""SQL for jobs and stages.

Concurrency rules every writer follows (workers, sweepers and API calls race on these rows):
- a transaction that changes a job or its stages first *locks the job row* with
  ``lock_job`` (an UPDATE: a row lock on PostgreSQL, the write lock on SQLite), so the
  read-decide-write steps on one job's stages are serialised and always in the same lock
  order (job, then stages): no deadlocks, and no two completions both missing that a
  downstream stage became runnable;
- changes to a stage that a worker owns are conditional on its lease (``lease_owner``), so a
  worker whose lease was taken over cannot write over the new owner.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.assets.models import Asset
from app.assets.repository import is_live
from app.core.db import utcnow
from app.core.enums import AssetKind, AssetStatus, JobQuality, JobStatus, StageStatus
from app.core.pagination import Ordering, Page, PageRows, ValueKind, one_page, pages_of_anchors, rows_by_id
from app.jobs.models import Job, JobStage
from app.media.models import TranscriptSegment

ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
TERMINAL_JOB_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
DONE_STAGE_STATUSES = (StageStatus.SUCCEEDED, StageStatus.SKIPPED)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


async def lock_job(
    session: AsyncSession, *, job_id: uuid.UUID, tenant_id: uuid.UUID | None = None
) -> Job | None:
    """Lock the job row for the rest of the transaction and return it freshly loaded."""
    stmt = update(Job).where(Job.id == job_id).values(updated_at=utcnow())
    if tenant_id is not None:
        stmt = stmt.where(Job.tenant_id == tenant_id)
    if _rowcount(await session.execute(stmt.execution_options(synchronize_session=False))) == 0:
        return None
    return await session.get(Job, job_id, populate_existing=True)


async def cancel_requested_at(session: AsyncSession, *, job_id: uuid.UUID) -> datetime | None:
    """When cancelling the job was asked for (None: it was not, or there is no such job)."""
    return await session.scalar(select(Job.cancel_requested_at).where(Job.id == job_id))


async def get_stage(session: AsyncSession, *, stage_id: uuid.UUID) -> JobStage | None:
    """The stage row, freshly loaded."""
    return await session.get(JobStage, stage_id, populate_existing=True)


async def stages_of(session: AsyncSession, job_id: uuid.UUID) -> list[JobStage]:
    """The job's stage rows in pipeline order, freshly loaded."""
    rows = await session.scalars(
        select(JobStage)
        .where(JobStage.job_id == job_id)
        .order_by(JobStage.ordinal)
        .execution_options(populate_existing=True)
    )
    return list(rows)


def _unleased(now: datetime) -> ColumnElement[bool]:
    """A stage nobody holds at ``now``: waiting to run, or running under an expired lease."""
    return or_(
        JobStage.status.in_((StageStatus.PENDING, StageStatus.QUEUED)),
        and_(JobStage.status == StageStatus.RUNNING, JobStage.lease_expires_at < now),
    )


async def claim_stage(
    session: AsyncSession, *, stage_id: uuid.UUID, owner: str, now: datetime, lease_until: datetime
) -> bool:
    """Take the stage's lease if it is waiting to run or its previous lease expired.

    One conditional UPDATE: of two workers racing for the same stage exactly one matches.
    """
    result = await session.execute(
        update(JobStage)
        .where(JobStage.id == stage_id, _unleased(now))
        .values(
            status=StageStatus.RUNNING,
            lease_owner=owner,
            lease_expires_at=lease_until,
            attempts=JobStage.attempts + 1,
            started_at=now,
            finished_at=None,
            duration_s=None,
            progress=0.0,
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def update_owned_stage(
    session: AsyncSession, *, stage_id: uuid.UUID, owner: str, values: dict[str, Any]
) -> bool:
    """Apply ``values`` to the stage only while ``owner`` holds its lease; whether it did."""
    result = await session.execute(
        update(JobStage)
        .where(
            JobStage.id == stage_id,
            JobStage.lease_owner == owner,
            JobStage.status == StageStatus.RUNNING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def lease_expired_message(owner: str | None, attempt: int) -> str:
    """What a stage row says after its worker vanished (``error_message`` with STAGE_CRASHED)."""
    return f"the lease of {owner or 'its worker'} expired during attempt {attempt}: the worker died or hung"


async def release_expired_lease(
    session: AsyncSession,
    *,
    stage_id: uuid.UUID,
    now: datetime,
    error_code: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Clear the lease of a RUNNING stage if it expired before ``now``; whether it did.

    ``error_code``/``error_message`` record why (the run that vanished is the stage's last
    word until another run replaces it). Conditional: the owner's heartbeat may renew the
    lease between a read and this write.
    """
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
    if error_code is not None:
        values.update(error_code=error_code, error_message=error_message)
    result = await session.execute(
        update(JobStage)
        .where(
            JobStage.id == stage_id,
            JobStage.status == StageStatus.RUNNING,
            JobStage.lease_expires_at < now,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def fail_unleased_stage(
    session: AsyncSession, *, stage_id: uuid.UUID, now: datetime, code: str, message: str
) -> bool:
    """Fail a stage nobody holds (QUEUED/PENDING, or RUNNING with an expired lease); whether it did.

    Conditional like ``claim_stage``: a late heartbeat of the vanished owner renewing its
    lease in between makes this a no-op, and the stage is decided by that run.
    """
    result = await session.execute(
        update(JobStage)
        .where(JobStage.id == stage_id, _unleased(now))
        .values(
            status=StageStatus.FAILED,
            error_code=code,
            error_message=message,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def count_active_jobs(session: AsyncSession, *, queue: str) -> int:
    """Jobs of ``queue`` that are waiting or running (the backpressure count)."""
    value = await session.scalar(
        select(func.count()).select_from(Job).where(Job.queue == queue, Job.status.in_(ACTIVE_JOB_STATUSES))
    )
    return int(value or 0)


async def count_finished_since(session: AsyncSession, *, queue: str, since: datetime) -> int:
    """Jobs of ``queue`` that reached a terminal state after ``since`` (recent throughput)."""
    value = await session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.queue == queue, Job.status.in_(TERMINAL_JOB_STATUSES), Job.finished_at >= since)
    )
    return int(value or 0)


async def has_active_job(session: AsyncSession, *, asset_id: uuid.UUID) -> bool:
    """Whether a job over the asset is waiting or running."""
    value = await session.scalar(
        select(exists().where(Job.asset_id == asset_id, Job.status.in_(ACTIVE_JOB_STATUSES)))
    )
    return bool(value)


async def upgrade_candidate(
    session: AsyncSession, *, fast_models: Sequence[tuple[str, str]], kinds: Sequence[AssetKind]
) -> Asset | None:
    """The oldest ready asset (any tenant) whose transcript is one of ``fast_models``' (name,
    version) and that has no job waiting or running, nor an upgrade that failed or was
    cancelled (those are re-run on demand, never again automatically); locked for the
    caller's transaction (PostgreSQL), so two sweepers do not both upgrade it."""
    if not fast_models:
        return None
    fast = or_(
        *(
            and_(TranscriptSegment.model_name == name, TranscriptSegment.model_version == version)
            for name, version in fast_models
        )
    )
    upgrade_gave_up = exists().where(
        Job.asset_id == Asset.id,
        Job.quality == JobQuality.ACCURATE,
        Job.status.in_((JobStatus.FAILED, JobStatus.CANCELLED)),
    )
    busy = exists().where(Job.asset_id == Asset.id, Job.status.in_(ACTIVE_JOB_STATUSES))
    return await session.scalar(
        select(Asset)
        .where(
            Asset.deleted_at.is_(None),
            Asset.status == AssetStatus.READY,
            Asset.kind.in_(tuple(kinds)),
            exists().where(TranscriptSegment.asset_id == Asset.id, fast),
            ~busy,
            ~upgrade_gave_up,
        )
        .order_by(Asset.created_at, Asset.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


async def sweep_candidates(
    session: AsyncSession, *, now: datetime, lost_before: datetime, settle_before: datetime, limit: int
) -> list[uuid.UUID]:
    """Active jobs the sweeper must look at, oldest first.

    - a RUNNING stage whose lease expired (its worker died or hangs);
    - a QUEUED stage whose message was sent before ``lost_before`` and never started (the
      message was lost: broker flushed or restarted, send failed after commit);
    - no stage queued or running at all, last touched before ``settle_before`` (a runnable
      PENDING stage nobody enqueued, a finished job not yet marked, a cancel to finalise).
    """
    expired = select(JobStage.job_id).where(
        JobStage.status == StageStatus.RUNNING, JobStage.lease_expires_at < now
    )
    lost = select(JobStage.job_id).where(
        JobStage.status == StageStatus.QUEUED,
        or_(JobStage.enqueued_at.is_(None), JobStage.enqueued_at < lost_before),
    )
    in_motion = exists().where(
        JobStage.job_id == Job.id, JobStage.status.in_((StageStatus.QUEUED, StageStatus.RUNNING))
    )
    rows = await session.scalars(
        select(Job.id)
        .where(
            Job.status.in_(ACTIVE_JOB_STATUSES),
            or_(
                Job.id.in_(expired),
                Job.id.in_(lost),
                and_(~in_motion, Job.updated_at < settle_before),
            ),
        )
        .order_by(Job.created_at)
        .limit(limit)
    )
    return list(rows)


# --- reads for a tenant (the API) --------------------------------------------------------------
# A deleted asset takes its jobs and their stages out of every tenant read (node, job, jobs,
# Asset.jobs): the rows stay for the runner, the sweeper and the audit trail, but a client
# holding an old job or stage id learns nothing of what was deleted.

JOB_ORDER = Ordering("job", ((Job.created_at, ValueKind.DATETIME), (Job.id, ValueKind.UUID)), True)
STAGE_ORDER = Ordering("stage", ((JobStage.ordinal, ValueKind.INT), (JobStage.id, ValueKind.UUID)), False)


def _jobs(tenant_id: uuid.UUID) -> Select[Job]:
    """The base of every tenant read of jobs: the tenant's, of live assets."""
    return select(Job).where(Job.tenant_id == tenant_id, is_live(Job.asset_id))


def _stages(tenant_id: uuid.UUID) -> Select[JobStage]:
    """The base of every tenant read of job stages: the tenant's, of jobs of live assets."""
    live_job = exists().where(Job.id == JobStage.job_id, is_live(Job.asset_id))
    return select(JobStage).where(JobStage.tenant_id == tenant_id, live_job)


async def jobs_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Job]:
    """Jobs of the tenant, by id."""
    return await rows_by_id(session, _jobs(tenant_id), Job.id, ids)


async def stages_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, JobStage]:
    """Job stages of the tenant, by id."""
    return await rows_by_id(session, _stages(tenant_id), JobStage.id, ids)


async def jobs_of_assets(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_ids: Sequence[uuid.UUID],
    page: Page,
    statuses: tuple[JobStatus, ...] = (),
) -> dict[uuid.UUID, PageRows[Job]]:
    """Each asset's jobs, newest first."""
    inner = _jobs(tenant_id).where(Job.asset_id.in_(asset_ids))
    if statuses:
        inner = inner.where(Job.status.in_(statuses))
    return await pages_of_anchors(session, Job, inner, Job.asset_id, asset_ids, JOB_ORDER, page)


async def stages_of_jobs(
    session: AsyncSession, *, tenant_id: uuid.UUID, job_ids: Sequence[uuid.UUID], page: Page
) -> dict[uuid.UUID, PageRows[JobStage]]:
    """Each job's stages in pipeline order."""
    inner = _stages(tenant_id).where(JobStage.job_id.in_(job_ids))
    return await pages_of_anchors(session, JobStage, inner, JobStage.job_id, job_ids, STAGE_ORDER, page)


async def list_jobs(
    session: AsyncSession, *, tenant_id: uuid.UUID, statuses: tuple[JobStatus, ...], page: Page
) -> PageRows[Job]:
    """One page of the tenant's jobs, newest first."""
    stmt = _jobs(tenant_id)
    if statuses:
        stmt = stmt.where(Job.status.in_(statuses))
    return await one_page(session, stmt, JOB_ORDER, page)


# (stage name, its model_usage entries) of one job or asset, in run order.
StageUsage = list[tuple[str, list[dict[str, Any]]]]


async def model_usage_of_jobs(
    session: AsyncSession, *, tenant_id: uuid.UUID, job_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, StageUsage]:
    """Each job's stages' per-model usage, in pipeline order (one statement)."""
    stmt = (
        _stages(tenant_id)
        .with_only_columns(JobStage.job_id, JobStage.name, JobStage.model_usage)
        .where(JobStage.job_id.in_(job_ids))
        .order_by(JobStage.job_id, JobStage.ordinal)
    )
    found: dict[uuid.UUID, StageUsage] = {}
    for job_id, name, usage in await session.execute(stmt):
        found.setdefault(job_id, []).append((name, list(usage or [])))
    return found


async def model_usage_of_assets(
    session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, StageUsage]:
    """The per-model usage of every stage of each asset's jobs, oldest job first (one statement)."""
    # An alias: the base's liveness subquery names Job too and must not correlate to the join.
    job = aliased(Job)
    stmt = (
        _stages(tenant_id)
        .join(job, job.id == JobStage.job_id)
        .with_only_columns(job.asset_id, JobStage.name, JobStage.model_usage)
        .where(job.asset_id.in_(asset_ids))
        .order_by(job.asset_id, job.created_at, job.id, JobStage.ordinal)
    )
    found: dict[uuid.UUID, StageUsage] = {}
    for asset_id, name, usage in await session.execute(stmt):
        found.setdefault(asset_id, []).append((name, list(usage or [])))
    return found

"""Jobs: creating a pipeline run over an asset (the job system in ``jobs/`` executes it)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.models import Asset
from app.container import Enqueuer
from app.enums import StageStatus
from app.jobs.models import Job, JobStage
from app.jobs.outbox import defer_send
from app.jobs.pipeline import PIPELINES

# Actor that looks at a job's stage rows and enqueues every stage that became runnable.
ADVANCE_ACTOR = "pipeline.advance"


async def get_job_by_idempotency_key(session: AsyncSession, *, tenant_id: uuid.UUID, key: str) -> Job | None:
    """The job created earlier with this client idempotency key, if any."""
    return await session.scalar(select(Job).where(Job.tenant_id == tenant_id, Job.idempotency_key == key))


async def create_job(
    session: AsyncSession,
    *,
    enqueuer: Enqueuer | None,
    asset: Asset,
    pipeline: str = "media",
    queue: str = "realtime",
    priority: int = 0,
    idempotency_key: str | None = None,
    stages: list[str] | None = None,
) -> Job:
    """Create a job and its stage rows; its first message is sent after commit."""
    spec = PIPELINES[pipeline]
    job = Job(
        tenant_id=asset.tenant_id,
        asset_id=asset.id,
        pipeline=pipeline,
        queue=queue,
        priority=priority,
        idempotency_key=idempotency_key,
        requested_stages=sorted(stages) if stages else None,
    )
    session.add(job)
    wanted = spec.downstream(set(stages)) if stages else {s.name for s in spec.stages}
    for ordinal, stage in enumerate(spec.stages):
        row = JobStage(job_id=job.id, tenant_id=asset.tenant_id, name=stage.name, ordinal=ordinal)
        if asset.kind not in stage.kinds:
            row.status = StageStatus.SKIPPED
            row.skip_reason = f"does not apply to {asset.kind.value} assets"
        elif stage.name not in wanted:
            # Reprocessing a subset: upstream outputs are kept as they are.
            row.status = StageStatus.SKIPPED
            row.skip_reason = "not requested"
        session.add(row)
    await session.flush()
    defer_send(session, enqueuer, actor_name=ADVANCE_ACTOR, queue=queue, args={"job_id": str(job.id)})
    return job

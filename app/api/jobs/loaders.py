"""Loaders of jobs and their stages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from app.api.batching import PagedKey, SessionFactory, by_id_loader, clear_loaders, paged_loader
from app.core.enums import JobStatus
from app.core.pagination import Page, PageRows
from app.core.telemetry.model_usage import ModelUsage, stored
from app.jobs import repository as repo
from app.jobs.models import Job, JobStage


async def _jobs_of_assets(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    page: Page,
    statuses: tuple[JobStatus, ...],
) -> dict[uuid.UUID, PageRows[Job]]:
    return await repo.jobs_of_assets(
        session, tenant_id=tenant_id, asset_ids=ids, page=page, statuses=statuses
    )


async def _stages_of_jobs(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], page: Page, _where: None
) -> dict[uuid.UUID, PageRows[JobStage]]:
    return await repo.stages_of_jobs(session, tenant_id=tenant_id, job_ids=ids, page=page)


@dataclass(slots=True)
class JobLoaders:
    """Per-request loaders of the jobs domain."""

    factory: SessionFactory
    tenant_id: uuid.UUID
    job_by_id: DataLoader[uuid.UUID, Job | None] = field(init=False)
    job_stage_by_id: DataLoader[uuid.UUID, JobStage | None] = field(init=False)
    jobs_by_asset: DataLoader[PagedKey[tuple[JobStatus, ...]], PageRows[Job]] = field(init=False)
    job_stages_by_job: DataLoader[PagedKey[None], PageRows[JobStage]] = field(init=False)
    # Per model, summed over the job's stages / over every stage of the asset's jobs.
    model_usage_by_job: DataLoader[uuid.UUID, list[ModelUsage]] = field(init=False)
    model_usage_by_asset: DataLoader[uuid.UUID, list[ModelUsage]] = field(init=False)

    def __post_init__(self) -> None:
        f, t = self.factory, self.tenant_id
        self.job_by_id = by_id_loader(f, t, repo.jobs_by_id)
        self.job_stage_by_id = by_id_loader(f, t, repo.stages_by_id)
        self.jobs_by_asset = paged_loader(f, t, _jobs_of_assets)
        self.job_stages_by_job = paged_loader(f, t, _stages_of_jobs)
        self.model_usage_by_job = DataLoader(load_fn=self._usage_of_jobs)
        self.model_usage_by_asset = DataLoader(load_fn=self._usage_of_assets)

    async def _usage_of_jobs(self, ids: list[uuid.UUID]) -> list[list[ModelUsage]]:
        async with self.factory() as session:
            found = await repo.model_usage_of_jobs(session, tenant_id=self.tenant_id, job_ids=ids)
        return [stored(found.get(i, [])) for i in ids]

    async def _usage_of_assets(self, ids: list[uuid.UUID]) -> list[list[ModelUsage]]:
        async with self.factory() as session:
            found = await repo.model_usage_of_assets(session, tenant_id=self.tenant_id, asset_ids=ids)
        return [stored(found.get(i, [])) for i in ids]

    def clear(self) -> None:
        """Forget cached rows (long-lived subscription contexts re-read state per event)."""
        clear_loaders(self)

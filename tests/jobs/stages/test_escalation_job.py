"""Escalation as its own job: a realtime job over speech completes with the fast model's
transcript, then the ESCALATION job it asked for runs on the batch queue (a real job runtime
with the production registry) and replaces the unsure spans with the accurate model's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from app.assets.models import Asset
from app.assets.service import ingest_path
from app.core.container import Services
from app.core.enums import AssetStatus, JobQuality, JobStatus, StageStatus
from app.core.settings import Settings
from app.jobs.models import Job
from app.media.models import TranscriptSegment
from app.tenancy.models import Tenant
from inference.registry import WHISPER_BASE, WHISPER_TINY_EN
from jobs.registry import build_registry
from tests.fixtures.media import SpeechClip
from tests.jobs.conftest import RuntimeFactory, stages_by_name, wait_for, wait_jobs, with_runtime

pytestmark = [pytest.mark.models, pytest.mark.slow]


async def test_a_realtime_job_is_followed_by_its_escalation_job(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    speech_clip: SpeechClip,
) -> None:
    # Leases that outlive a model's first load on a busy machine (test_pipeline.py says why);
    # a rule that flags every segment (clean speech: base reads each span better).
    policy = job_settings.routing.model_copy(deep=True)
    policy.transcribe.escalate_below_logprob = 0.0
    settings = job_settings.model_copy(update={"stage_lease_seconds": 120.0, "routing": policy})
    runtime = start_runtime(settings, registry=build_registry(), host_services=services)
    path = media_root / "speech.wav"
    shutil.copyfile(speech_clip.path, path)
    factory = services.session_factory
    async with factory() as session:
        result = await ingest_path(
            session,
            services=with_runtime(services, settings, runtime),
            tenant_id=tenant.id,
            path=path,
            actor="t",
        )
        await session.commit()
    assert result.job is not None
    first, asset_id = result.job.id, result.asset.id

    async def follow_up() -> Job | None:
        async with factory() as session:
            return await session.scalar(select(Job).where(Job.asset_id == asset_id, Job.id != first))

    await wait_jobs(factory, [first], within=240)
    # Queued in the transaction that completed the first job: there from the moment it is done.
    escalation = await follow_up()
    assert escalation is not None
    assert (escalation.queue, escalation.quality) == ("batch", JobQuality.ESCALATION)
    # While it runs the asset stays READY: its first results stay valid and searchable.
    seen: set[AssetStatus] = set()

    async def escalation_done() -> bool:
        async with factory() as session:
            row = await session.get(Asset, asset_id)
            job = await session.get(Job, escalation.id)
        assert row is not None
        assert job is not None
        seen.add(row.status)
        return job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)

    await wait_for(escalation_done, within=240, interval=0.1, what="the escalation job to finish")
    assert seen == {AssetStatus.READY}

    async with factory() as session:
        jobs = {row.id: row for row in await session.scalars(select(Job).where(Job.asset_id == asset_id))}
        segments = list(
            await session.scalars(select(TranscriptSegment).where(TranscriptSegment.asset_id == asset_id))
        )
        asset = await session.get(Asset, asset_id)
    # Exactly the two jobs: the escalation asks for no further one.
    assert set(jobs) == {first, escalation.id}
    assert jobs[first].follow_up == JobQuality.ESCALATION
    assert [jobs[j].status for j in (first, escalation.id)] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]
    assert jobs[escalation.id].follow_up is None
    stages = await stages_by_name(factory, escalation.id)
    ran = {name for name, stage in stages.items() if stage.status == StageStatus.SUCCEEDED}
    assert ran == {"transcribe", "embed", "similarity", "index"}
    assert stages["transcribe"].model_versions == {
        WHISPER_TINY_EN.name: WHISPER_TINY_EN.version,
        WHISPER_BASE.name: WHISPER_BASE.version,
    }
    assert segments
    assert {s.model_name for s in segments} == {WHISPER_TINY_EN.name}
    assert WHISPER_BASE.key in {s.produced_by for s in segments}
    assert asset is not None
    assert asset.status == AssetStatus.READY

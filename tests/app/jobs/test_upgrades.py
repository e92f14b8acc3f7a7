"""The routing follow-ups: the ESCALATION job a fast pass asks for, and the idle-time upgrade
pass that queues ACCURATE jobs for assets whose transcript is still the fast model's."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset
from app.audit.models import AuditEvent
from app.core.container import Services
from app.core.db import session_scope, utcnow
from app.core.enums import AssetKind, AssetStatus, JobQuality, JobStatus, StageStatus
from app.core.events import asset_channel
from app.jobs import service as jobs
from app.jobs.models import Job, JobStage
from app.media.models import TranscriptSegment
from app.tenancy.models import Tenant
from inference.registry import WHISPER_BASE, WHISPER_TINY_EN
from jobs.sweeper import upgrade_when_idle
from tests.app.jobs.test_service import RecordingEnqueuer

FAST = (WHISPER_TINY_EN.name, WHISPER_TINY_EN.version)
ACCURATE = (WHISPER_BASE.name, WHISPER_BASE.version)


async def _asset(
    factory: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    *,
    kind: AssetKind = AssetKind.AUDIO,
    model: tuple[str, str] | None = FAST,
    status: AssetStatus = AssetStatus.READY,
) -> uuid.UUID:
    """A processed asset whose transcript (one row) ``model`` wrote."""
    async with session_scope(factory) as session:
        asset = Asset(
            tenant_id=tenant.id,
            blob_key=f"sha256/aa/{uuid.uuid4().hex}",
            content_sha256=uuid.uuid4().hex * 2,
            mime_type="audio/wav",
            size_bytes=10,
            kind=kind,
            status=status,
            title="talk",
        )
        session.add(asset)
        await session.flush()
        if model is not None:
            session.add(
                TranscriptSegment(
                    tenant_id=tenant.id,
                    asset_id=asset.id,
                    model_name=model[0],
                    model_version=model[1],
                    start_s=0.0,
                    end_s=1.0,
                    text="hello",
                )
            )
    return asset.id


def _upgrading(services: Services) -> Services:
    policy = services.settings.routing.model_copy(deep=True)
    policy.transcribe.upgrade_when_idle = True
    services.settings = services.settings.model_copy(update={"routing": policy})
    services.enqueuer = RecordingEnqueuer()
    return services


async def _jobs(factory: async_sessionmaker[AsyncSession]) -> list[Job]:
    async with factory() as session:
        return list(await session.scalars(select(Job).order_by(Job.created_at)))


async def test_an_idle_batch_queue_upgrades_the_oldest_fast_transcript_one_at_a_time(
    services: Services, tenant: Tenant
) -> None:
    factory = _upgrading(services).session_factory
    first = await _asset(factory, tenant)
    second = await _asset(factory, tenant)

    job_id = await upgrade_when_idle(services)

    (job,) = await _jobs(factory)
    assert str(job.id) == job_id
    assert (job.asset_id, job.queue, job.quality, job.priority) == (first, "batch", JobQuality.ACCURATE, -1)
    assert job.requested_stages == ["transcribe"]
    async with factory() as session:
        stages = {
            s.name: s.status for s in await session.scalars(select(JobStage).where(JobStage.job_id == job.id))
        }
        audit = (await session.scalars(select(AuditEvent).where(AuditEvent.entity_id == first))).one()
    # Transcribe and what depends on it; the rest of the asset's outputs are kept.
    assert {name for name, status in stages.items() if status != StageStatus.SKIPPED} == {
        "transcribe",
        "embed",
        "similarity",
        "index",
    }
    assert (audit.actor, audit.action, audit.details) == (
        jobs.ROUTING_ACTOR,
        "asset.upgrade",
        {"job_id": job_id},
    )
    # The batch queue is busy with that upgrade: the next asset waits for it to be idle again.
    assert await upgrade_when_idle(services) is None
    async with session_scope(factory) as session:
        row = await session.get(Job, job.id)
        assert row is not None
        row.status, row.finished_at = JobStatus.SUCCEEDED, utcnow()
        # What the upgrade wrote: the accurate model's transcript.
        segment = (
            await session.scalars(select(TranscriptSegment).where(TranscriptSegment.asset_id == first))
        ).one()
        segment.model_name, segment.model_version = ACCURATE
    second_job = await upgrade_when_idle(services)
    assert [(j.asset_id, str(j.id)) for j in await _jobs(factory)][1] == (second, second_job)


async def test_what_the_upgrade_pass_leaves_alone(services: Services, tenant: Tenant) -> None:
    factory = _upgrading(services).session_factory
    await _asset(factory, tenant, model=ACCURATE)  # already the accurate model's
    await _asset(factory, tenant, model=None)  # no speech
    await _asset(factory, tenant, kind=AssetKind.TEXT)  # text chunks are no speech
    await _asset(factory, tenant, status=AssetStatus.PROCESSING)  # busy
    deleted = await _asset(factory, tenant)
    gave_up = await _asset(factory, tenant)
    async with session_scope(factory) as session:
        row = await session.get(Asset, deleted)
        assert row is not None
        row.deleted_at = utcnow()
        # An upgrade that failed (or that a user cancelled) is not retried automatically.
        session.add(
            Job(
                tenant_id=tenant.id,
                asset_id=gave_up,
                pipeline="media",
                queue="batch",
                quality=JobQuality.ACCURATE,
                status=JobStatus.FAILED,
            )
        )
    assert await upgrade_when_idle(services) is None
    # And with the pass off, not even a candidate is looked for.
    busy_free = await _asset(factory, tenant)
    services.settings = services.settings.model_copy(
        update={"routing": services.settings.routing.model_copy(deep=True)}
    )
    services.settings.routing.transcribe.upgrade_when_idle = False
    assert await upgrade_when_idle(services) is None
    services.settings.routing.transcribe.upgrade_when_idle = True
    job_id = await upgrade_when_idle(services)
    assert [j.asset_id for j in await _jobs(factory) if str(j.id) == job_id] == [busy_free]


async def test_a_completed_job_queues_the_follow_up_it_asked_for(services: Services, tenant: Tenant) -> None:
    factory = services.session_factory
    services.enqueuer = RecordingEnqueuer()
    asset_id = await _asset(factory, tenant)
    async with services.publisher.subscribe(asset_channel(asset_id)) as events:
        async with session_scope(factory) as session:
            done = Job(
                tenant_id=tenant.id,
                asset_id=asset_id,
                pipeline="media",
                queue="realtime",
                status=JobStatus.SUCCEEDED,
                follow_up=JobQuality.ESCALATION,
            )
            quiet = Job(tenant_id=tenant.id, asset_id=asset_id, pipeline="media", status=JobStatus.SUCCEEDED)
            session.add_all([done, quiet])
            await session.flush()
            assert await jobs.queue_follow_up(session, services=services, job=quiet) is None
            follow_up = await jobs.queue_follow_up(session, services=services, job=done)
        # The asset's subscribers hear of the new job once it is committed.
        event = await asyncio.wait_for(anext(aiter(events)), timeout=30)
    assert follow_up is not None
    assert (event["type"], event["job_id"]) == ("job_queued", str(follow_up.id))
    assert (follow_up.queue, follow_up.quality, follow_up.requested_stages) == (
        "batch",
        JobQuality.ESCALATION,
        ["transcribe"],
    )
    async with factory() as session:
        audit = (await session.scalars(select(AuditEvent).where(AuditEvent.entity_id == asset_id))).one()
    assert (audit.actor, audit.action) == (jobs.ROUTING_ACTOR, "asset.escalation")
    assert audit.details == {"job_id": str(follow_up.id), "after_job_id": str(done.id)}


async def test_a_follow_up_is_skipped_not_failed_when_the_batch_queue_is_full(
    services: Services, tenant: Tenant
) -> None:
    factory = services.session_factory
    services.enqueuer = RecordingEnqueuer()
    services.settings = services.settings.model_copy(update={"queue_bound": 1})
    asset_id = await _asset(factory, tenant)
    other = await _asset(factory, tenant)
    async with session_scope(factory) as session:
        session.add(Job(tenant_id=tenant.id, asset_id=other, pipeline="media", queue="batch"))
        done = Job(
            tenant_id=tenant.id,
            asset_id=asset_id,
            pipeline="media",
            status=JobStatus.SUCCEEDED,
            follow_up=JobQuality.ESCALATION,
        )
        session.add(done)
        await session.flush()
        # The job that asked completes all the same; the idle upgrade pass reaches the asset later.
        assert await jobs.queue_follow_up(session, services=services, job=done) is None
    assert [j.asset_id for j in await _jobs(factory) if j.quality == JobQuality.ESCALATION] == []


async def test_an_improving_job_leaves_the_asset_status_alone(services: Services, tenant: Tenant) -> None:
    # The asset stays READY (searchable, its first results valid) while an ACCURATE or
    # ESCALATION job runs and after it ends, failed or not; a ROUTED job sets it as before.
    factory = services.session_factory
    asset_id = await _asset(factory, tenant)
    for quality in (JobQuality.ACCURATE, JobQuality.ESCALATION, JobQuality.ROUTED):
        async with session_scope(factory) as session:
            job = Job(tenant_id=tenant.id, asset_id=asset_id, pipeline="media", quality=quality)
            session.add(job)
            await session.flush()
            await jobs.set_asset_status(session, job=job, status=AssetStatus.PROCESSING)
            job.status = JobStatus.FAILED
            await jobs.set_asset_status(session, job=job, status=AssetStatus.FAILED)
        async with factory() as session:
            asset = await session.get(Asset, asset_id)
        assert asset is not None
        expected = AssetStatus.FAILED if quality == JobQuality.ROUTED else AssetStatus.READY
        assert (quality, asset.status) == (quality, expected)

"""Job domain services: creation, backpressure, cancel, retry, reprocess, progress math."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.assets.models import Asset
from app.assets.service import ingest_path
from app.audit.models import AuditEvent
from app.core.container import Services
from app.core.enums import AssetKind, AssetStatus, JobStatus, StageStatus
from app.core.errors import BackpressureError, InvalidInputError, InvalidStateError, NotFoundError
from app.jobs import service as jobs
from app.jobs.errors import STAGE_CRASHED
from app.jobs.models import Job, JobStage
from app.jobs.pipeline import MEDIA_PIPELINE
from app.jobs.progress import job_progress
from app.tenancy.models import Tenant
from app.tenancy.service import ensure_tenant


@dataclass
class RecordingEnqueuer:
    """Records what would be sent (the broker is the job system's business)."""

    sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def send(
        self,
        actor_name: str,
        *,
        queue: str,
        args: dict[str, Any],
        delay_ms: int = 0,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.sent.append((actor_name, queue, args))


@dataclass
class Row:
    name: str
    status: StageStatus
    progress: float = 0.0


def test_progress_is_the_weighted_mean_over_stages_that_run() -> None:
    rows = [Row(s.name, StageStatus.PENDING) for s in MEDIA_PIPELINE.stages]
    assert job_progress(MEDIA_PIPELINE, rows) == 0.0
    # A text asset: scenes/transcribe/ocr/detect skipped; weights probe 1, text 2, embed 3,
    # similarity 1, index 1.
    text = {"scenes", "transcribe", "ocr", "detect"}
    rows = [
        Row(s.name, StageStatus.SKIPPED if s.name in text else StageStatus.PENDING)
        for s in MEDIA_PIPELINE.stages
    ]
    rows[0].status = StageStatus.SUCCEEDED
    rows[1].status, rows[1].progress = StageStatus.RUNNING, 0.5
    assert job_progress(MEDIA_PIPELINE, rows) == round((1 + 2 * 0.5) / 8, 4)
    # Out-of-range and NaN reports cannot push the bar outside [0, 1].
    rows[1].progress = float("nan")
    assert job_progress(MEDIA_PIPELINE, rows) == round(1 / 8, 4)
    rows[1].progress = 7.0
    assert job_progress(MEDIA_PIPELINE, rows) == round(3 / 8, 4)
    assert (
        job_progress(MEDIA_PIPELINE, [Row(s.name, StageStatus.SKIPPED) for s in MEDIA_PIPELINE.stages]) == 1.0
    )


def test_waiting_to_resume_only_after_the_worker_of_a_started_stage_stopped() -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    stage = JobStage(name="scenes", status=StageStatus.RUNNING, lease_expires_at=now + timedelta(seconds=1))
    assert not jobs.waiting_to_resume(stage, now)  # its worker renews the lease
    stage.lease_expires_at = now - timedelta(seconds=1)
    assert jobs.waiting_to_resume(stage, now)  # the lease ran out: the worker stopped
    # Taken back by the sweeper: queued again, marked as a crash until a worker takes it.
    stage.status, stage.lease_expires_at, stage.error_code = StageStatus.QUEUED, None, STAGE_CRASHED
    assert jobs.waiting_to_resume(stage, now)
    stage.status, stage.lease_expires_at = StageStatus.RUNNING, now + timedelta(seconds=30)
    assert not jobs.waiting_to_resume(stage, now)  # resumed on another worker
    # Queued for a first run or for a retry after a transient failure: nothing stopped.
    for error_code in (None, "TRANSIENT_ERROR"):
        queued = JobStage(name="scenes", status=StageStatus.QUEUED, error_code=error_code)
        assert not jobs.waiting_to_resume(queued, now)
    for status in (StageStatus.PENDING, StageStatus.SUCCEEDED, StageStatus.FAILED, StageStatus.CANCELLED):
        assert not jobs.waiting_to_resume(
            JobStage(name="scenes", status=status, error_code=STAGE_CRASHED), now
        )


async def _ingest(services: Services, tenant: Tenant, media_root: Path, name: str, body: str) -> Job:
    path = media_root / name
    path.write_text(body)
    async with services.session_factory() as session:
        result = await ingest_path(session, services=services, tenant_id=tenant.id, path=path, actor="test")
        await session.commit()
    assert result.job is not None
    return result.job


async def _stages(services: Services, job_id: uuid.UUID) -> dict[str, JobStage]:
    async with services.session_factory() as session:
        rows = await session.scalars(select(JobStage).where(JobStage.job_id == job_id))
        return {r.name: r for r in rows}


async def test_create_job_queues_the_first_stage_after_commit(
    services: Services, tenant: Tenant, media_root: Path
) -> None:
    enqueuer = RecordingEnqueuer()
    services.enqueuer = enqueuer
    path = media_root / "a.txt"
    path.write_text("words")
    async with services.session_factory() as session:
        result = await ingest_path(session, services=services, tenant_id=tenant.id, path=path, actor="t")
        assert enqueuer.sent == [], "nothing is sent before the transaction commits"
        await session.rollback()
    assert enqueuer.sent == []
    job = await _ingest(services, tenant, media_root, "b.txt", "other words")
    assert enqueuer.sent == [(jobs.STAGE_ACTOR, "realtime", {"job_id": str(job.id), "stage": "probe"})]
    stages = await _stages(services, job.id)
    assert stages["probe"].status == StageStatus.QUEUED
    assert stages["probe"].enqueued_at is not None
    assert stages["text"].status == StageStatus.PENDING
    assert result.job is not None


async def test_backpressure_per_queue(services: Services, tenant: Tenant, media_root: Path) -> None:
    services.settings = services.settings.model_copy(update={"queue_bound": 2})
    for i in range(2):
        await _ingest(services, tenant, media_root, f"{i}.txt", f"text {i}")
    with pytest.raises(BackpressureError) as refused:
        await _ingest(services, tenant, media_root, "2.txt", "text 2")
    # Nothing finished recently: the default retry-after.
    assert refused.value.retry_after_s == 30.0
    async with services.session_factory() as session:
        assert len((await session.scalars(select(Asset))).all()) == 2
        # A finished job frees a slot and gives the throughput the retry-after is based on.
        first = (await session.scalars(select(Job).order_by(Job.created_at))).first()
        assert first is not None
        first.status = JobStatus.SUCCEEDED
        first.finished_at = first.created_at
        await session.commit()
    await _ingest(services, tenant, media_root, "2.txt", "text 2")
    with pytest.raises(BackpressureError) as again:
        await _ingest(services, tenant, media_root, "3.txt", "text 3")
    # One job finished in the last 10 minutes: one slot every 600 s, capped at 300 s.
    assert again.value.retry_after_s == 300.0


async def test_cancel_a_queued_job_and_errors(services: Services, tenant: Tenant, media_root: Path) -> None:
    job = await _ingest(services, tenant, media_root, "c.txt", "cancel me")
    async with services.session_factory() as session:
        other = await ensure_tenant(session, slug="other")
        await session.commit()
    async with services.session_factory() as session:
        with pytest.raises(NotFoundError):
            await jobs.cancel_job(session, services=services, tenant_id=other.id, job_id=job.id, actor="t")
    async with services.session_factory() as session:
        cancelled = await jobs.cancel_job(
            session, services=services, tenant_id=tenant.id, job_id=job.id, actor="alice"
        )
        await session.commit()
    # Nothing was running: cancelled at once, every stage that had not run with it.
    assert cancelled.status == JobStatus.CANCELLED
    stages = await _stages(services, job.id)
    assert {s.status for s in stages.values()} == {StageStatus.CANCELLED, StageStatus.SKIPPED}
    async with services.session_factory() as session:
        with pytest.raises(InvalidStateError, match="only queued or running jobs can be cancelled"):
            await jobs.cancel_job(session, services=services, tenant_id=tenant.id, job_id=job.id, actor="t")
        audit = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "job.cancel"))).one()
        asset = await session.get(Asset, job.asset_id)
    assert (audit.actor, audit.entity_id) == ("alice", job.id)
    assert asset is not None
    assert asset.status == AssetStatus.REGISTERED


async def test_retry_resets_only_what_did_not_succeed(
    services: Services, tenant: Tenant, media_root: Path
) -> None:
    enqueuer = RecordingEnqueuer()
    services.enqueuer = enqueuer
    job = await _ingest(services, tenant, media_root, "r.txt", "retry me")
    async with services.session_factory() as session:
        with pytest.raises(InvalidStateError, match="only failed or cancelled jobs can be retried"):
            await jobs.retry_job(session, services=services, tenant_id=tenant.id, job_id=job.id, actor="t")
        # As the runner leaves a job that failed at "text" after probe succeeded.
        rows = {r.name: r for r in await session.scalars(select(JobStage).where(JobStage.job_id == job.id))}
        rows["probe"].status, rows["probe"].attempts = StageStatus.SUCCEEDED, 1
        rows["text"].status, rows["text"].error_code, rows["text"].attempts = StageStatus.FAILED, "X", 1
        failed = await session.get(Job, job.id)
        assert failed is not None
        failed.status, failed.error_code = JobStatus.FAILED, "X"
        await session.commit()
    enqueuer.sent.clear()
    async with services.session_factory() as session:
        retried = await jobs.retry_job(
            session, services=services, tenant_id=tenant.id, job_id=job.id, actor="bob"
        )
        await session.commit()
    assert (retried.status, retried.error_code, retried.attempts) == (JobStatus.QUEUED, None, 2)
    stages = await _stages(services, job.id)
    assert (stages["probe"].status, stages["probe"].attempts) == (StageStatus.SUCCEEDED, 1)
    assert (stages["text"].status, stages["text"].error_code) == (StageStatus.QUEUED, None)
    assert enqueuer.sent == [(jobs.STAGE_ACTOR, "realtime", {"job_id": str(job.id), "stage": "text"})]


async def test_reprocess_validates_and_runs_a_subset(
    services: Services, tenant: Tenant, media_root: Path
) -> None:
    enqueuer = RecordingEnqueuer()
    services.enqueuer = enqueuer
    job = await _ingest(services, tenant, media_root, "p.md", "# doc")
    async with services.session_factory() as session:
        asset = await session.get(Asset, job.asset_id)
        assert asset is not None
        assert asset.kind == AssetKind.TEXT
        refusals = [
            (InvalidStateError, "already has a queued or running job", "embed"),
            (InvalidInputError, "unknown stage", "embedd"),
            (InvalidInputError, "do not apply to text assets", "ocr"),
        ]
        for error, message, stage in refusals:
            with pytest.raises(error, match=message):
                await jobs.reprocess_asset(
                    session,
                    services=services,
                    tenant_id=tenant.id,
                    asset_id=asset.id,
                    stages=[stage],
                    actor="t",
                )
        first = await session.get(Job, job.id)
        assert first is not None
        first.status = JobStatus.SUCCEEDED
        await session.commit()
    enqueuer.sent.clear()
    async with services.session_factory() as session:
        asset = await session.get(Asset, job.asset_id)
        assert asset is not None
        again = await jobs.reprocess_asset(
            session,
            services=services,
            tenant_id=tenant.id,
            asset_id=asset.id,
            stages=["embed"],
            actor="carol",
        )
        await session.commit()
    assert (again.queue, again.requested_stages) == ("batch", ["embed"])
    stages = await _stages(services, again.id)
    assert {n: s.status for n, s in stages.items() if s.status != StageStatus.SKIPPED} == {
        "embed": StageStatus.QUEUED,
        "similarity": StageStatus.PENDING,
        "index": StageStatus.PENDING,
    }
    assert stages["probe"].skip_reason == "not requested"
    assert enqueuer.sent == [(jobs.STAGE_ACTOR, "batch", {"job_id": str(again.id), "stage": "embed"})]
    async with services.session_factory() as session:
        audit = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "asset.reprocess"))
        ).one()
    assert audit.details == {
        "job_id": str(again.id),
        "stages": ["embed"],
        "queue": "batch",
        "quality": "routed",
    }

"""Jobs: creating, cancelling, retrying and advancing pipeline runs (``jobs/`` executes them).

The functions here are the only place that decides what a job's stages do next, so the
API, the stage runner and the sweeper agree: ``enqueue_runnable`` marks every PENDING stage
whose upstream stages are done as QUEUED and sends its message after commit. Every function
expects the caller to have locked the job (``repository.lock_job``) when it changes stages.
None of them commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from opentelemetry import propagate
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import repository as assets_repository
from app.assets import stage_repository as asset_stage_repository
from app.assets.models import Asset
from app.audit import service as audit
from app.core.container import Enqueuer, Services
from app.core.db import utcnow
from app.core.enums import AssetKind, AssetStatus, JobQuality, JobStatus, StageStatus
from app.core.errors import BackpressureError, InvalidInputError, InvalidStateError, NotFoundError
from app.core.events import Publisher, asset_channel, job_channel
from app.jobs import repository
from app.jobs.errors import STAGE_CRASHED
from app.jobs.events import TERMINAL_EVENTS, EventType, job_event
from app.jobs.models import Job, JobStage
from app.jobs.outbox import defer_publish, defer_send
from app.jobs.pipeline import PIPELINES, Pipeline, StageName
from app.jobs.progress import job_progress
from app.webhooks import service as webhooks

log = logging.getLogger(__name__)

# The one actor every stage message goes to; it dispatches on the stage name (jobs/runner/).
STAGE_ACTOR = "pipeline.run_stage"
# Real-time work (an upload someone waits on) is served before batch work (bulk ingest,
# reprocessing): jobs/broker.py gives the realtime actor the higher priority.
QUEUES = ("realtime", "batch")
# Retry-after when a full queue has finished nothing recently (no throughput to go by).
_DEFAULT_RETRY_AFTER_S = 30.0
_THROUGHPUT_WINDOW = timedelta(minutes=10)


def current_trace_context() -> dict[str, str]:
    """The W3C trace context (traceparent, tracestate) of the current OpenTelemetry context."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


async def check_backpressure(session: AsyncSession, *, queue: str, queue_bound: int) -> None:
    """Raise BackpressureError when ``queue`` already holds ``queue_bound`` unfinished jobs.

    The bound is checked, not reserved: concurrent callers can overshoot it by at most their
    number, which keeps ingestion free of a global lock.
    """
    active = await repository.count_active_jobs(session, queue=queue)
    if active < queue_bound:
        return
    finished = await repository.count_finished_since(
        session, queue=queue, since=utcnow() - _THROUGHPUT_WINDOW
    )
    # Expected time until one slot frees up at the recent rate, within [1 s, 5 min].
    retry_after = _THROUGHPUT_WINDOW.total_seconds() / finished if finished else _DEFAULT_RETRY_AFTER_S
    retry_after = round(min(300.0, max(1.0, retry_after)), 1)
    raise BackpressureError(
        f"the {queue} queue is full ({active} unfinished jobs, bound {queue_bound}); "
        f"retry in {retry_after:g} s",
        retry_after_s=retry_after,
    )


def _validate_queue(queue: str) -> None:
    if queue not in QUEUES:
        raise InvalidInputError(f"unknown queue {queue!r}: use one of {', '.join(QUEUES)}", field=["queue"])


async def create_job(
    session: AsyncSession,
    *,
    services: Services,
    asset: Asset,
    pipeline: str = "media",
    queue: str = "realtime",
    priority: int = 0,
    idempotency_key: str | None = None,
    stages: Sequence[str] | None = None,
    quality: JobQuality = JobQuality.ROUTED,
) -> Job:
    """Create a job and its stage rows; its first stages are sent after commit.

    Raises BackpressureError when ``queue`` holds the settings' ``queue_bound`` unfinished jobs.
    """
    _validate_queue(queue)
    spec = PIPELINES[pipeline]
    await check_backpressure(session, queue=queue, queue_bound=services.settings.queue_bound)
    job = Job(
        tenant_id=asset.tenant_id,
        asset_id=asset.id,
        pipeline=pipeline,
        queue=queue,
        priority=priority,
        idempotency_key=idempotency_key,
        requested_stages=sorted(stages) if stages else None,
        quality=quality,
        trace_context=current_trace_context(),
        attempts=1,
    )
    session.add(job)
    wanted = spec.downstream(set(stages)) if stages else {s.name for s in spec.stages}
    rows = []
    for ordinal, stage in enumerate(spec.stages):
        row = JobStage(job_id=job.id, tenant_id=asset.tenant_id, name=stage.name, ordinal=ordinal)
        if asset.kind not in stage.kinds:
            row.status = StageStatus.SKIPPED
            row.skip_reason = f"does not apply to {asset.kind.value} assets"
        elif stage.name not in wanted:
            # Reprocessing a subset: upstream outputs are kept as they are.
            row.status = StageStatus.SKIPPED
            row.skip_reason = "not requested"
        rows.append(row)
    session.add_all(rows)
    await session.flush()
    enqueue_runnable(session, services.enqueuer, job=job, stages=rows)
    if finalize_if_done(job, rows):
        # Nothing applies (every stage skipped): the job is complete as created.
        await set_asset_status(session, job=job, status=AssetStatus.READY, enqueuer=services.enqueuer)
    return job


def runnable_stages(pipeline: Pipeline, stages: Sequence[JobStage]) -> list[JobStage]:
    """PENDING stages whose upstream stages all succeeded or were skipped."""
    by_name = {s.name: s for s in stages}
    ready = []
    for stage in stages:
        if stage.status != StageStatus.PENDING:
            continue
        deps = pipeline.stage(stage.name).after
        if all(by_name[d].status in repository.DONE_STAGE_STATUSES for d in deps if d in by_name):
            ready.append(stage)
    return ready


def dependencies_done(pipeline: Pipeline, stages: Sequence[JobStage], name: str) -> bool:
    """Whether every upstream stage of ``name`` succeeded or was skipped."""
    by_name = {s.name: s for s in stages}
    deps = pipeline.stage(name).after
    return all(by_name[d].status in repository.DONE_STAGE_STATUSES for d in deps if d in by_name)


def waiting_to_resume(stage: JobStage, now: datetime) -> bool:
    """Whether the stage's worker stopped mid-run (killed, crashed or hung: its lease ran out)
    and the stage waits for another worker to take it over."""
    if stage.status == StageStatus.RUNNING:
        return stage.lease_expires_at is not None and stage.lease_expires_at < now
    return stage.status == StageStatus.QUEUED and stage.error_code == STAGE_CRASHED


def send_stage(session: AsyncSession, enqueuer: Enqueuer | None, *, job: Job, stage: JobStage) -> bool:
    """Mark ``stage`` QUEUED now and send its message after commit; whether it was sent.

    Without an enqueuer the stage stays PENDING (QUEUED means a message was handed to the
    broker); the sweeper of the next process with an enqueuer finds and sends it.
    """
    if enqueuer is None:
        return False
    stage.status = StageStatus.QUEUED
    stage.enqueued_at = utcnow()
    defer_send(
        session,
        enqueuer,
        actor_name=STAGE_ACTOR,
        queue=job.queue,
        args={"job_id": str(job.id), "stage": stage.name},
        # The trace of the request that created (or retried) the job; a sender inside a span
        # (a stage run) overrides it with its own context (jobs/broker.py).
        options={"trace_context": dict(job.trace_context or {})},
    )
    return True


def enqueue_runnable(
    session: AsyncSession, enqueuer: Enqueuer | None, *, job: Job, stages: Sequence[JobStage]
) -> list[str]:
    """Queue every stage that became runnable; the names queued."""
    if job.status not in repository.ACTIVE_JOB_STATUSES or job.cancel_requested_at is not None:
        return []
    queued = []
    for stage in runnable_stages(PIPELINES[job.pipeline], stages):
        if send_stage(session, enqueuer, job=job, stage=stage):
            queued.append(stage.name)
    return queued


def refresh_progress(job: Job, stages: Sequence[JobStage]) -> None:
    """Recompute the job's progress and current stage from its stages."""
    job.progress = job_progress(PIPELINES[job.pipeline], stages)
    running = [s.name for s in stages if s.status == StageStatus.RUNNING]
    if running:
        job.current_stage = running[0]


def finalize_if_done(job: Job, stages: Sequence[JobStage]) -> bool:
    """Mark an active job SUCCEEDED when every stage succeeded or was skipped; whether it did."""
    if job.status not in repository.ACTIVE_JOB_STATUSES:
        return False
    if not all(s.status in repository.DONE_STAGE_STATUSES for s in stages):
        return False
    job.status = JobStatus.SUCCEEDED
    job.progress = 1.0
    job.current_stage = None
    job.error_code = None
    job.error_message = None
    job.finished_at = utcnow()
    return True


def mark_failed(job: Job, stages: Sequence[JobStage], *, stage: str, code: str, message: str) -> None:
    """Fail the job at ``stage``; queued stages go back to PENDING so a retry re-sends them."""
    now = utcnow()
    for row in stages:
        if row.status == StageStatus.QUEUED:
            # Their messages, if still in flight, find a failed job and do nothing.
            row.status = StageStatus.PENDING
            row.enqueued_at = None
    job.status = JobStatus.FAILED
    job.current_stage = stage
    job.error_code = code
    job.error_message = message
    job.finished_at = now
    job.progress = job_progress(PIPELINES[job.pipeline], stages)


def mark_cancelled(job: Job, stages: Sequence[JobStage]) -> list[JobStage]:
    """Cancel the job and every stage that has not finished; the stages cancelled."""
    now = utcnow()
    cancelled = []
    for row in stages:
        if row.status in (StageStatus.PENDING, StageStatus.QUEUED, StageStatus.RUNNING):
            row.status = StageStatus.CANCELLED
            row.lease_owner = None
            row.lease_expires_at = None
            row.finished_at = now
            cancelled.append(row)
    job.status = JobStatus.CANCELLED
    job.cancel_requested_at = job.cancel_requested_at or now
    job.finished_at = now
    job.progress = job_progress(PIPELINES[job.pipeline], stages)
    return cancelled


async def set_asset_status(
    session: AsyncSession, *, job: Job, status: AssetStatus, enqueuer: Enqueuer | None = None
) -> None:
    """Set the job's asset status (a deleted asset keeps DELETED), and record the webhook events
    of a job that ended (sent after commit through ``enqueuer``; without one, the sweeper sends them).

    An ACCURATE or ESCALATION job improves outputs the asset already has: the asset keeps its
    status (READY and searchable) while it runs and after it ends; the job, its events and its
    webhooks tell of it."""
    if job.quality == JobQuality.ROUTED:
        await asset_stage_repository.set_status(session, asset_id=job.asset_id, status=status)
    data: dict[str, str | None] = {
        "jobId": webhooks.global_id("Job", job.id),
        "assetId": webhooks.global_id("Asset", job.asset_id),
        "status": job.status.name,
    }
    if job.status == JobStatus.SUCCEEDED and status == AssetStatus.READY:
        for event_type in ("job.succeeded", "asset.ready"):
            await webhooks.emit(session, enqueuer, tenant_id=job.tenant_id, event_type=event_type, data=data)
    elif job.status == JobStatus.FAILED and status == AssetStatus.FAILED:
        data |= {"errorCode": job.error_code, "errorMessage": job.error_message}
        await webhooks.emit(session, enqueuer, tenant_id=job.tenant_id, event_type="job.failed", data=data)


def publish_after_commit(
    session: AsyncSession,
    publisher: Publisher | None,
    event_type: EventType,
    job: Job,
    stage: JobStage | None = None,
) -> None:
    """Announce an event on the job's channel (terminal events on the asset's too) after commit."""
    payload = job_event(event_type, job, stage)
    defer_publish(session, publisher, job_channel(job.id), payload)
    if event_type in TERMINAL_EVENTS:
        defer_publish(session, publisher, asset_channel(job.asset_id), payload)


async def _locked_job(session: AsyncSession, *, tenant_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    job = await repository.lock_job(session, job_id=job_id, tenant_id=tenant_id)
    if job is None:
        raise NotFoundError(f"job {job_id} not found", field=["jobId"])
    return job


async def cancel_job(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    actor: str,
) -> Job:
    """Cancel a waiting or running job.

    Stages not yet started are cancelled now; a running stage stops at its next progress
    report or lease heartbeat, and its worker then marks the job CANCELLED. Cancelling a
    job already being cancelled returns it unchanged.
    """
    job = await _locked_job(session, tenant_id=tenant_id, job_id=job_id)
    if job.status not in repository.ACTIVE_JOB_STATUSES:
        raise InvalidStateError(
            f"job {job_id} is {job.status.value}: only queued or running jobs can be cancelled"
        )
    if job.cancel_requested_at is not None:
        return job
    job.cancel_requested_at = utcnow()
    stages = await repository.stages_of(session, job.id)
    if not any(s.status == StageStatus.RUNNING for s in stages):
        mark_cancelled(job, stages)
        await set_asset_status(session, job=job, status=asset_status_after_stop(job))
        publish_after_commit(session, services.publisher, EventType.JOB_CANCELLED, job)
    await session.flush()
    await audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="job.cancel",
        entity_type="job",
        entity_id=job.id,
        details={"status": job.status.value},
    )
    return job


def asset_status_after_stop(job: Job) -> AssetStatus:
    """The asset's status once its job was cancelled."""
    # A cancelled first run leaves an asset that was never processed; a cancelled
    # reprocessing leaves the outputs of the earlier run, which are still complete.
    return AssetStatus.READY if job.requested_stages else AssetStatus.REGISTERED


async def retry_job(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    actor: str,
) -> Job:
    """Re-run a failed or cancelled job from where it stopped; succeeded stages are kept."""
    job = await _locked_job(session, tenant_id=tenant_id, job_id=job_id)
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise InvalidStateError(
            f"job {job_id} is {job.status.value}: only failed or cancelled jobs can be retried"
        )
    await check_backpressure(session, queue=job.queue, queue_bound=services.settings.queue_bound)
    stages = await repository.stages_of(session, job.id)
    reset = []
    for row in stages:
        if row.status in (StageStatus.FAILED, StageStatus.CANCELLED, StageStatus.QUEUED, StageStatus.RUNNING):
            row.status = StageStatus.PENDING
            row.progress = 0.0
            row.error_code = None
            row.error_message = None
            row.lease_owner = None
            row.lease_expires_at = None
            row.enqueued_at = None
            row.finished_at = None
            reset.append(row.name)
    previous = {"status": job.status.value, "error_code": job.error_code, "stages": reset}
    job.status = JobStatus.QUEUED
    job.error_code = None
    job.error_message = None
    job.cancel_requested_at = None
    job.finished_at = None
    job.attempts += 1
    job.trace_context = current_trace_context() or job.trace_context
    job.progress = job_progress(PIPELINES[job.pipeline], stages)
    enqueue_runnable(session, services.enqueuer, job=job, stages=stages)
    if finalize_if_done(job, stages):
        await set_asset_status(session, job=job, status=AssetStatus.READY)
    await session.flush()
    await audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="job.retry",
        entity_type="job",
        entity_id=job.id,
        details=previous,
    )
    return job


async def reprocess_asset(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    stages: Sequence[str] | None,
    actor: str,
    queue: str = "batch",
    quality: JobQuality = JobQuality.ROUTED,
) -> Job:
    """Start a new job over the tenant's live asset running ``stages`` and everything downstream
    of them (all stages when None or empty); upstream outputs are kept. ``quality`` ACCURATE
    runs the accurate models (``settings.routing``) instead of the queue's route."""
    asset = await assets_repository.get(session, tenant_id=tenant_id, asset_id=asset_id)
    if asset is None:
        raise NotFoundError(f"asset {asset_id} not found", field=["assetId"])
    _validate_queue(queue)
    spec = PIPELINES["media"]
    names = sorted(set(stages or ()))
    known = {s.name.value for s in spec.stages}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInputError(
            f"unknown stage(s) {', '.join(unknown)}: the pipeline has {', '.join(sorted(known))}",
            field=["stages"],
        )
    inapplicable = [n for n in names if asset.kind not in spec.stage(n).kinds]
    if inapplicable:
        raise InvalidInputError(
            f"stage(s) {', '.join(inapplicable)} do not apply to {asset.kind.value} assets", field=["stages"]
        )
    if await repository.has_active_job(session, asset_id=asset.id):
        raise InvalidStateError(
            f"asset {asset.id} already has a queued or running job: cancel it or wait for it to finish"
        )
    job = await create_job(
        session, services=services, asset=asset, queue=queue, stages=names or None, quality=quality
    )
    await audit.record(
        session,
        tenant_id=asset.tenant_id,
        actor=actor,
        action="asset.reprocess",
        entity_type="asset",
        entity_id=asset.id,
        details={"job_id": str(job.id), "stages": names or None, "queue": queue, "quality": quality.value},
    )
    _announce_queued(session, services, job)
    return job


def _announce_queued(session: AsyncSession, services: Services, job: Job) -> None:
    """Tell the asset's subscribers a job over it was queued (after commit)."""
    defer_publish(
        session, services.publisher, asset_channel(job.asset_id), job_event(EventType.JOB_QUEUED, job)
    )


# The system's own actor in the audit trail of the jobs routing queues by itself.
ROUTING_ACTOR = "system:routing"


async def _queue_speech_job(
    session: AsyncSession,
    *,
    services: Services,
    asset: Asset,
    quality: JobQuality,
    action: str,
    details: dict[str, str],
    priority: int = 0,
) -> Job:
    """A job the routing policy queues by itself on the batch queue (transcribe and what depends
    on it), audited under ``ROUTING_ACTOR`` and announced to the asset's subscribers."""
    job = await create_job(
        session,
        services=services,
        asset=asset,
        queue="batch",
        stages=[StageName.TRANSCRIBE],
        quality=quality,
        priority=priority,
    )
    await audit.record(
        session,
        tenant_id=asset.tenant_id,
        actor=ROUTING_ACTOR,
        action=action,
        entity_type="asset",
        entity_id=asset.id,
        details={"job_id": str(job.id), **details},
    )
    _announce_queued(session, services, job)
    return job


async def queue_follow_up(session: AsyncSession, *, services: Services, job: Job) -> Job | None:
    """The job ``job`` asked for once it completed (``job.follow_up``: an ESCALATION of a fast
    pass's unsure spans), on the batch queue: transcribe and what depends on it. None when it
    asked for none, or the batch queue is full (the idle upgrade pass then reaches the asset)."""
    if job.follow_up is None:
        return None
    asset = await asset_stage_repository.get_for_job(session, asset_id=job.asset_id)
    if asset is None or asset.deleted_at is not None:
        return None
    try:
        return await _queue_speech_job(
            session,
            services=services,
            asset=asset,
            quality=job.follow_up,
            action=f"asset.{job.follow_up.value}",
            details={"after_job_id": str(job.id)},
        )
    except BackpressureError:
        log.warning("batch queue full: no %s follow-up of job %s", job.follow_up.value, job.id)
        return None


async def queue_idle_upgrade(
    session: AsyncSession, *, services: Services, fast_models: Sequence[tuple[str, str]]
) -> Job | None:
    """When the batch queue is idle, an ACCURATE job (transcribe and what depends on it) for
    the oldest asset whose transcript is one of ``fast_models`` (name, version: the speech
    models other than the accurate one); one at a time, so the next waits for the queue to be
    idle again."""
    if await repository.count_active_jobs(session, queue="batch"):
        return None
    asset = await repository.upgrade_candidate(
        session, fast_models=fast_models, kinds=(AssetKind.VIDEO, AssetKind.AUDIO)
    )
    if asset is None:
        return None
    # Below every job a user queued on the batch queue.
    return await _queue_speech_job(
        session,
        services=services,
        asset=asset,
        quality=JobQuality.ACCURATE,
        action="asset.upgrade",
        details={},
        priority=-1,
    )

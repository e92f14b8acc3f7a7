"""Workers that vanish mid-stage: a poisoned file stops after its attempts (STAGE_CRASHED), and a
worker that comes back after its lease was taken over has its result discarded.

A worker "dies" here the way the runner sees it: it claimed the stage (the real claim) and
then never heartbeats, completes or releases; the lease runs out and the real sweeper or a
redelivered message takes it from there. ``test_reliability.py`` kills real processes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.models import Asset
from app.core.container import Services
from app.core.db import utcnow
from app.core.enums import AssetStatus, JobStatus, StageStatus
from app.core.events import job_channel
from app.core.settings import Settings
from app.jobs.errors import STAGE_CRASHED, PermanentStageError
from app.jobs.models import Job
from app.media.models import Scene
from app.media.service import replace_scenes
from app.tenancy.models import Tenant
from jobs.broker import dead_letters
from jobs.registry import StageContext, StageOutput, StageRegistry, build_registry
from jobs.runtime import JobRuntime
from jobs.sweeper import sweep_once
from tests.jobs.conftest import (
    TEST_MODULES,
    RuntimeFactory,
    consuming,
    count,
    ingest_video,
    stages_by_name,
    wait_for,
    with_runtime,
)
from tests.jobs.stagelib import run_test_stage

LEASE_S = 0.3


@pytest.fixture
def short_lease(job_settings: Settings) -> Settings:
    """Leases that run out within a test's second."""
    return job_settings.model_copy(update={"stage_lease_seconds": LEASE_S})


@pytest.fixture
def crash_registry() -> StageRegistry:
    """The test stages, scenes with a retry budget of its own (1) below the settings' (3)."""
    registry = build_registry(TEST_MODULES)
    registry.register("scenes", run_test_stage, max_retries=1, replace=True)
    return registry


async def deliver(runtime: JobRuntime, job_id: uuid.UUID, stage: str) -> None:
    """One delivery of a stage message to the runtime's runner, as a worker thread makes it."""
    assert runtime.runner is not None
    runner = runtime.runner
    coro = runner.run(
        job_id=str(job_id),
        stage=stage,
        retries=0,
        max_retries=runner.max_retries_for(stage),
        trace_context={},
    )
    await asyncio.to_thread(runtime.call, coro)


async def lease_expired(services: Services, job_id: uuid.UUID, stage: str) -> None:
    """Wait until the stage's lease is in the past."""

    async def expired() -> bool:
        row = (await stages_by_name(services.session_factory, job_id))[stage]
        return row.lease_expires_at is not None and row.lease_expires_at < utcnow()

    await wait_for(expired, within=5, what=f"the lease of {stage} to expire")


@pytest.mark.parametrize("recovered_by", ["sweeper", "redelivery"])
async def test_worker_dying_on_every_attempt_fails_the_stage_with_stage_crashed(
    recovered_by: str,
    services: Services,
    short_lease: Settings,
    tenant: Tenant,
    media_root: Path,
    tmp_path: Path,
    start_runtime: RuntimeFactory,
    crash_registry: StageRegistry,
) -> None:
    runtime = start_runtime(
        short_lease, registry=crash_registry, host_services=services, workers=False, sweeper=False
    )
    assert runtime.runner is not None
    assert runtime.services is not None
    assert runtime.enqueuer is not None
    log = tmp_path / "runs.log"
    job = await ingest_video(
        with_runtime(services, short_lease, runtime), tenant, media_root, shade=1, test={"log": str(log)}
    )
    await deliver(runtime, job.id, "probe")
    # scenes is registered with max_retries=1: two starts, then it is given up.
    allowed = runtime.runner.max_retries_for("scenes") + 1
    assert (allowed, short_lease.max_retries) == (2, 3)
    expired_reports = []
    for attempt in range(1, allowed + 1):
        # A worker takes the stage (the runner's own claim) and dies: it never reports again.
        claim = await asyncio.to_thread(runtime.call, runtime.runner.claim(job.id, "scenes"))
        assert claim is not None
        assert claim.stage.attempts == attempt
        await lease_expired(services, job.id, "scenes")
        if recovered_by == "redelivery" and attempt == allowed:
            break  # the last death is found by the next delivery, before any sweep
        report = await asyncio.to_thread(runtime.call, sweep_once(runtime.services, runtime.enqueuer))
        expired_reports.append(report.expired)
        scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
        # The crash is on the row at once, and the stage is sent again.
        assert (scenes.status, scenes.error_code, scenes.lease_owner) == (
            StageStatus.QUEUED,
            STAGE_CRASHED,
            None,
        )
        assert scenes.error_message == f"the lease of {claim.owner} expired during attempt {attempt}: " + (
            "the worker died or hung"
        )
    assert all(r == [(str(job.id), "scenes")] for r in expired_reports)

    # Several scenes messages are queued now (the first send and each re-send): the first a
    # worker receives gives the stage up; the others find the job failed and do nothing.
    events: list[dict[str, Any]] = []
    async with services.publisher.subscribe(job_channel(job.id)) as stream, consuming(runtime):

        async def collect() -> None:
            async for event in stream:
                events.append(event)
                if event["type"] == "job_failed":
                    return

        await asyncio.wait_for(collect(), timeout=10)

        async def dead_lettered() -> bool:
            assert runtime.broker is not None
            return len(dead_letters(runtime.broker, "realtime")) == 1

        await wait_for(dead_lettered, within=5, what="the dead letter")
        # Every queued copy handled (the later ones found the job failed).
        broker = runtime.broker
        assert isinstance(broker, StubBroker)
        await asyncio.to_thread(broker.join, "realtime", timeout=10_000, fail_fast=False)

    stages = await stages_by_name(services.session_factory, job.id)
    scenes = stages["scenes"]
    assert (scenes.status, scenes.error_code, scenes.attempts) == (StageStatus.FAILED, STAGE_CRASHED, allowed)
    assert scenes.error_message is not None
    assert scenes.error_message.endswith(
        f"expired during attempt {allowed}: the worker died or hung (gave up after {allowed} attempts)"
    )
    assert scenes.lease_owner is None
    # What waits for scenes never ran (transcribe needs only the probe: it may have).
    assert all(stages[n].status == StageStatus.PENDING for n in ("ocr", "detect", "embed"))
    async with services.session_factory() as session:
        failed = await session.get(Job, job.id)
        asset = await session.get(Asset, job.asset_id)
    assert failed is not None
    assert asset is not None
    assert (failed.status, failed.current_stage, failed.error_code, failed.error_message) == (
        JobStatus.FAILED,
        "scenes",
        STAGE_CRASHED,
        scenes.error_message,
    )
    assert asset.status == AssetStatus.FAILED
    assert [(e["type"], e["error_code"]) for e in events if e["type"] in ("stage_failed", "job_failed")] == [
        ("stage_failed", STAGE_CRASHED),
        ("job_failed", STAGE_CRASHED),
    ]
    assert [m.kwargs for m in dead_letters(runtime.broker, "realtime")] == [  # type: ignore[arg-type]
        {"job_id": str(job.id), "stage": "scenes"}
    ]
    # Never run again: no scenes run at all (every "run" died at its claim), and later
    # sweeps leave the failed job alone.
    assert "scenes" not in (log.read_text() if log.exists() else "")
    report = await asyncio.to_thread(runtime.call, sweep_once(runtime.services, runtime.enqueuer))
    assert (report.examined, report.resent, report.expired) == (0, [], [])
    assert (await stages_by_name(services.session_factory, job.id))["scenes"].attempts == allowed


async def test_retry_job_after_stage_crashed_runs_the_stage_again(
    services: Services,
    short_lease: Settings,
    tenant: Tenant,
    media_root: Path,
    tmp_path: Path,
    start_runtime: RuntimeFactory,
    crash_registry: StageRegistry,
) -> None:
    from app.jobs import service as jobs

    runtime = start_runtime(
        short_lease, registry=crash_registry, host_services=services, workers=False, sweeper=False
    )
    assert runtime.runner is not None
    assert runtime.services is not None
    assert runtime.enqueuer is not None
    job = await ingest_video(with_runtime(services, short_lease, None), tenant, media_root, shade=2)
    await deliver(runtime, job.id, "probe")
    for _ in range(2):
        assert await asyncio.to_thread(runtime.call, runtime.runner.claim(job.id, "scenes")) is not None
        await lease_expired(services, job.id, "scenes")
        await asyncio.to_thread(runtime.call, sweep_once(runtime.services, runtime.enqueuer))
    with pytest.raises(PermanentStageError) as refused:
        await deliver(runtime, job.id, "scenes")
    assert refused.value.code == STAGE_CRASHED

    # The cause is gone (a fixed decoder, say): retryJob grants the stage a fresh budget.
    async with services.session_factory() as session:
        await jobs.retry_job(
            session,
            services=with_runtime(services, short_lease, runtime),
            tenant_id=tenant.id,
            job_id=job.id,
            actor="test",
        )
        await session.commit()
    await deliver(runtime, job.id, "scenes")
    scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
    assert (scenes.status, scenes.attempts, scenes.error_code) == (StageStatus.SUCCEEDED, 3, None)


async def test_late_worker_loses_its_lease_and_its_result_is_discarded(
    services: Services,
    short_lease: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="jobs.runner")
    resume_first = threading.Event()
    runs: list[tuple[int, str]] = []

    async def stalls_on_first_attempt(ctx: StageContext) -> StageOutput:
        runs.append((ctx.attempt, "start"))
        rows = 2
        if ctx.attempt == 1:
            # Worker A stalls with its event loop blocked (a stage hogging the loop, a GC
            # pause, a frozen VM): no heartbeat, so its lease runs out while it still lives.
            resume_first.wait(60)  # blocking the loop is the fault under test (set in finally)
            rows = 5
        runs.append((ctx.attempt, "end"))
        tenant_id, asset_id = ctx.asset.tenant_id, ctx.asset.id

        async def write(session: AsyncSession) -> None:
            await replace_scenes(
                session,
                tenant_id=tenant_id,
                asset_id=asset_id,
                model_name="test-scenes",
                model_version="1",
                scenes=[{"ordinal": i, "start_s": float(i), "end_s": float(i + 1)} for i in range(rows)],
            )

        return StageOutput(write=write, model_versions={"test-scenes": "1"})

    registry = build_registry(TEST_MODULES)
    registry.register("scenes", stalls_on_first_attempt, replace=True)
    # Two workers, each with its own event loop and database pool.
    worker_a = start_runtime(short_lease, registry=registry, workers=False, sweeper=False, worker_id="A")
    worker_b = start_runtime(short_lease, registry=registry, workers=False, sweeper=False, worker_id="B")
    job = await ingest_video(with_runtime(services, short_lease, None), tenant, media_root, shade=3)
    await deliver(worker_a, job.id, "probe")

    late = asyncio.create_task(deliver(worker_a, job.id, "scenes"))
    try:

        async def a_running() -> bool:
            return runs == [(1, "start")]

        await wait_for(a_running, within=5, what="worker A to run scenes")
        await lease_expired(services, job.id, "scenes")
        # The message is delivered again (Redis hands a silent worker's messages to another)
        # and worker B takes the expired lease over.
        await deliver(worker_b, job.id, "scenes")
        taken = (await stages_by_name(services.session_factory, job.id))["scenes"]
        assert (taken.status, taken.attempts, taken.lease_owner) == (StageStatus.SUCCEEDED, 2, None)
        assert await count(services.session_factory, Scene, Scene.model_name == "test-scenes") == 2
    finally:
        resume_first.set()  # A comes back and finishes its (late) work
    await asyncio.wait_for(late, timeout=10)

    assert runs == [(1, "start"), (2, "start"), (2, "end"), (1, "end")]
    assert any("lease lost, run discarded" in r.getMessage() for r in caplog.records)
    scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
    # B's run stands: A's five rows were never written and nothing is duplicated.
    assert (scenes.status, scenes.attempts, scenes.lease_owner) == (StageStatus.SUCCEEDED, 2, None)
    assert scenes.finished_at == taken.finished_at
    assert await count(services.session_factory, Scene, Scene.model_name == "test-scenes") == 2
    async with services.session_factory() as session:
        current = await session.get(Job, job.id)
    assert current is not None
    assert current.status in (JobStatus.RUNNING, JobStatus.QUEUED)


async def test_twin_messages_of_a_failing_stage_share_one_retry_budget(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    crash_registry: StageRegistry,
) -> None:
    """Two messages of one stage, each on its first Dramatiq try (the sweeper re-sent a stage
    whose retry was still delayed, as seen on a loaded CI machine): the stage row's attempts,
    not each message's retry count, bound the runs. scenes allows 2 starts: the first message
    fails transiently and is requeued, the twin's run is the last and fails the stage with the
    stage's own code, not retried; the requeued one then finds the job failed."""
    runtime = start_runtime(
        job_settings, registry=crash_registry, host_services=services, workers=False, sweeper=False
    )
    assert runtime.runner is not None
    test = {"stages": {"scenes": {"transient_failures": 99}}}
    job = await ingest_video(
        with_runtime(services, job_settings, runtime), tenant, media_root, shade=3, test=test
    )
    await deliver(runtime, job.id, "probe")
    with pytest.raises(dramatiq.Retry):  # first message: attempt 1, a retry asked of Dramatiq
        await deliver(runtime, job.id, "scenes")
    scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
    assert (scenes.status, scenes.attempts, scenes.error_code) == (StageStatus.QUEUED, 1, "TEST_FLAKY")
    with pytest.raises(PermanentStageError) as raised:  # the twin: attempt 2, the last allowed
        await deliver(runtime, job.id, "scenes")
    assert raised.value.code == "TEST_FLAKY"
    await deliver(runtime, job.id, "scenes")  # the first message's retry: nothing left to do

    scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
    assert (scenes.status, scenes.attempts, scenes.error_code) == (StageStatus.FAILED, 2, "TEST_FLAKY")
    assert scenes.error_message == "scenes failed on attempt 2 (gave up after 2 attempts)"
    async with services.session_factory() as session:
        failed = await session.get(Job, job.id)
    assert failed is not None
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "TEST_FLAKY")

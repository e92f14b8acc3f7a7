"""The embedded default end to end: memory:// broker, worker threads in this process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from app.assets.models import Asset
from app.core.container import Services
from app.core.enums import AssetStatus, JobStatus, StageStatus
from app.core.events import job_channel
from app.core.settings import Settings
from app.jobs import service as jobs
from app.jobs.errors import STAGE_NOT_IMPLEMENTED, STAGE_TIME_LIMIT
from app.jobs.models import Job
from app.media.models import Scene
from app.tenancy.models import Tenant
from jobs.broker import dead_letters
from jobs.registry import StageContext, StageOutput, StageRegistry, build_registry
from jobs.runner import StageRunner
from tests.jobs.conftest import (
    TEST_MODULES,
    RuntimeFactory,
    count,
    ingest_video,
    stages_by_name,
    wait_for,
    wait_jobs,
    with_runtime,
)
from tests.jobs.stagelib import TEST_STAGES

VIDEO_STAGES = ["probe", "scenes", "transcribe", "ocr", "detect", "embed", "similarity", "index"]


async def test_video_job_runs_every_stage_and_streams_progress(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    test = {"stages": {"scenes": {"sleep_s": 1.2, "steps": 4, "rows": 3}}}
    # Created before any worker runs, so the subscription below sees every event.
    job = await ingest_video(
        with_runtime(services, job_settings, None), tenant, media_root, shade=1, test=test
    )
    events: list[dict[str, Any]] = []

    async with services.publisher.subscribe(job_channel(job.id)) as stream:
        start_runtime(job_settings, registry=test_registry, host_services=services)

        async def collect() -> None:
            async for event in stream:
                events.append(event)
                if event["type"] == "job_completed":
                    return

        await asyncio.wait_for(collect(), timeout=30)

    stages = await stages_by_name(services.session_factory, job.id)
    assert {n: s.status for n, s in stages.items()} == {
        **dict.fromkeys(VIDEO_STAGES, StageStatus.SUCCEEDED),
        "text": StageStatus.SKIPPED,
    }
    assert all(stages[n].attempts == 1 for n in VIDEO_STAGES)
    assert stages["probe"].model_versions["pyav-probe"].startswith("av ")
    assert stages["scenes"].model_versions == {"test-scenes": "1"}
    async with services.session_factory() as session:
        finished = await session.get(Job, job.id)
        asset = await session.get(Asset, job.asset_id)
    assert finished is not None
    assert asset is not None
    assert (finished.status, finished.progress, finished.current_stage) == (JobStatus.SUCCEEDED, 1.0, None)
    assert finished.started_at is not None
    assert finished.finished_at is not None
    # The real probe wrote what the file is onto the asset.
    assert asset.status == AssetStatus.READY
    assert (asset.width, asset.height, asset.frame_rate, asset.audio_channels) == (64, 48, 25.0, 1)
    assert asset.duration_s is not None
    assert 0.9 <= asset.duration_s <= 1.2
    assert (asset.media_info["video_codec"], asset.media_info["audio_codec"]) == ("h264", "aac")
    # Every test stage replaced its own rows: six stages x 2 rows, scenes 3.
    assert await count(services.session_factory, Scene, Scene.asset_id == job.asset_id) == 6 * 2 + 3

    assert {e["job_id"] for e in events} == {str(job.id)}
    assert events[-1]["type"] == "job_completed"
    assert events[-1]["progress"] == 1.0
    for name in VIDEO_STAGES:
        mine = [e["type"] for e in events if e["stage"] == name]
        assert (mine[0], mine[-1]) == ("stage_started", "stage_completed"), (name, mine)
        assert set(mine[1:-1]) <= {"progress"}, (name, mine)
    scenes = [e for e in events if e["stage"] == "scenes" and e["type"] == "progress"]
    fractions = [e["stage_progress"] for e in scenes]
    # Four steps 0.3 s apart, throttled to one write per 0.5 s, the last always reported.
    assert 2 <= len(fractions) <= 4
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    # While scenes ran, the overall progress counted probe's weight and scenes' share.
    assert all(0 < e["progress"] < 1 for e in scenes)


async def test_unregistered_stage_fails_the_job_with_stage_not_implemented(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
) -> None:
    # A worker deployed with only the probe module (the wrong image, say).
    runtime = start_runtime(
        job_settings, registry=build_registry(["jobs.stages.probe"]), host_services=services
    )
    job = await ingest_video(with_runtime(services, job_settings, runtime), tenant, media_root, shade=2)
    await wait_jobs(services.session_factory, [job.id], within=20)
    stages = await stages_by_name(services.session_factory, job.id)
    assert stages["probe"].status == StageStatus.SUCCEEDED
    async with services.session_factory() as session:
        failed = await session.get(Job, job.id)
    assert failed is not None
    # scenes and transcribe both follow probe: whichever a worker takes first fails the job.
    first = str(failed.current_stage)
    assert first in ("scenes", "transcribe")
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, STAGE_NOT_IMPLEMENTED)
    assert (stages[first].status, stages[first].error_code) == (StageStatus.FAILED, STAGE_NOT_IMPLEMENTED)
    assert f"no implementation of the '{first}' stage" in (stages[first].error_message or "")
    assert all(
        stages[n].status == StageStatus.PENDING for n in ("ocr", "detect", "embed", "similarity", "index")
    )
    assert runtime.broker is not None
    dead = dead_letters(runtime.broker, "realtime")
    assert (str(job.id), first) in [(m.kwargs["job_id"], m.kwargs["stage"]) for m in dead]


async def test_job_created_without_a_broker_is_sent_by_the_sweeper(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    # E.g. `mediakg ingest` from a shell: no enqueuer, so the stages stay PENDING.
    job = await ingest_video(with_runtime(services, job_settings, None), tenant, media_root, shade=3)
    assert (await stages_by_name(services.session_factory, job.id))["probe"].status == StageStatus.PENDING
    start_runtime(job_settings, registry=test_registry, host_services=services)
    await wait_jobs(services.session_factory, [job.id], within=20)
    assert (await stages_by_name(services.session_factory, job.id))["index"].status == StageStatus.SUCCEEDED


async def test_cancel_stops_a_running_stage_and_everything_after_it(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    runtime = start_runtime(job_settings, registry=test_registry, host_services=services)
    svc = with_runtime(services, job_settings, runtime)
    test = {"stages": {"scenes": {"sleep_s": 30, "steps": 300}}}
    job = await ingest_video(svc, tenant, media_root, shade=4, test=test)

    async def scenes_running() -> bool:
        scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
        return scenes.status == StageStatus.RUNNING and scenes.progress > 0

    await wait_for(scenes_running, within=20, what="scenes to run")
    async with services.session_factory() as session:
        await jobs.cancel_job(session, services=services, tenant_id=tenant.id, job_id=job.id, actor="test")
        await session.commit()
    # Inside the stage's 30 s sleep, with room for a loaded 2-core machine (since transcribe
    # runs beside scenes, a second stage shares the workers while the cancel lands).
    waited = await wait_jobs(services.session_factory, [job.id], within=20)
    assert waited < 15.0, "cancellation is honoured inside the stage, not after its 30 s"
    stages = await stages_by_name(services.session_factory, job.id)
    assert stages["probe"].status == StageStatus.SUCCEEDED
    # Transcribe runs beside scenes (it needs only the probe): it may have finished first.
    assert stages["transcribe"].status in (StageStatus.SUCCEEDED, StageStatus.CANCELLED)
    after = [n for n in VIDEO_STAGES[1:] if n != "transcribe"]
    assert {stages[n].status for n in after} == {StageStatus.CANCELLED}
    async with services.session_factory() as session:
        cancelled = await session.get(Job, job.id)
        asset = await session.get(Asset, job.asset_id)
    assert cancelled is not None
    assert asset is not None
    assert cancelled.status == JobStatus.CANCELLED
    assert cancelled.cancel_requested_at is not None
    assert asset.status == AssetStatus.REGISTERED


async def test_stage_over_its_time_limit_fails_permanently(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
) -> None:
    async def slow(ctx: StageContext) -> StageOutput:
        await asyncio.sleep(5)
        return StageOutput()

    registry = build_registry(TEST_MODULES)
    registry.register("scenes", slow, time_limit_s=0.3, replace=True)
    runtime = start_runtime(job_settings, registry=registry, host_services=services)
    job = await ingest_video(with_runtime(services, job_settings, runtime), tenant, media_root, shade=5)
    await wait_jobs(services.session_factory, [job.id], within=10)
    scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
    assert (scenes.status, scenes.error_code, scenes.attempts) == (StageStatus.FAILED, STAGE_TIME_LIMIT, 1)
    assert "limit of 0.3 s" in (scenes.error_message or "")


async def test_graceful_shutdown_releases_a_running_stage_for_the_next_worker(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    runtime = start_runtime(job_settings, registry=test_registry, host_services=services)
    test = {"stages": {"scenes": {"sleep_s": 20, "steps": 200}}}
    job = await ingest_video(
        with_runtime(services, job_settings, runtime), tenant, media_root, shade=6, test=test
    )

    async def scenes_running() -> bool:
        return (await stages_by_name(services.session_factory, job.id))[
            "scenes"
        ].status == StageStatus.RUNNING

    await wait_for(scenes_running, within=20, what="scenes to run")
    await asyncio.to_thread(runtime.stop, 0.2)
    scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
    # Released, not left to lease expiry: QUEUED, no owner, ready for any worker; the
    # unfinished run is handed back, not counted against the stage's retry budget.
    assert (scenes.status, scenes.lease_owner, scenes.lease_expires_at, scenes.attempts) == (
        StageStatus.QUEUED,
        None,
        None,
        0,
    )

    # The next process finishes it (its message died with the in-process queue: the first
    # sweep re-sends it), with the stage's slowness removed.
    async with services.session_factory() as session:
        asset = await session.get(Asset, job.asset_id)
        assert asset is not None
        asset.user_metadata = {"test": {}}
        await session.commit()
    start_runtime(job_settings, registry=test_registry, host_services=services)
    await wait_jobs(services.session_factory, [job.id], within=20)
    scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
    assert (scenes.status, scenes.attempts) == (StageStatus.SUCCEEDED, 1)


async def test_trace_context_of_the_ingest_request_reaches_every_stage(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
) -> None:
    seen: dict[str, int] = {}

    async def traced(ctx: StageContext) -> StageOutput:
        seen[ctx.stage] = trace.get_current_span().get_span_context().trace_id
        return StageOutput()

    registry = build_registry()
    for name in TEST_STAGES:
        registry.register(name, traced, replace=True)
    runtime = start_runtime(job_settings, registry=registry, host_services=services)
    trace_id = 0x0AF7651916CD43DD8448EB211C80319C
    request = SpanContext(
        trace_id=trace_id, span_id=0xB7AD6B7169203331, is_remote=True, trace_flags=TraceFlags(1)
    )
    # As if the API request carried `traceparent: 00-0af7...-b7ad...-01`.
    with trace.use_span(NonRecordingSpan(request)):
        job = await ingest_video(with_runtime(services, job_settings, runtime), tenant, media_root, shade=7)
    await wait_jobs(services.session_factory, [job.id], within=20)
    async with services.session_factory() as session:
        created = await session.get(Job, job.id)
    assert created is not None
    assert created.status == JobStatus.SUCCEEDED
    assert created.trace_context["traceparent"] == f"00-{trace_id:032x}-{0xB7AD6B7169203331:016x}-01"
    assert seen == dict.fromkeys(
        ["scenes", "transcribe", "ocr", "detect", "embed", "similarity", "index"], trace_id
    )


async def test_concurrent_deliveries_of_one_stage_run_it_once(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    tmp_path: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    # Two runners (two "workers") in one loop, racing for the same stage message.
    runtime = start_runtime(job_settings, registry=test_registry, workers=False, sweeper=False)
    log = tmp_path / "runs.log"
    test = {"log": str(log), "stages": {"scenes": {"sleep_s": 0.5, "steps": 2}}}
    job = await ingest_video(
        with_runtime(services, job_settings, None), tenant, media_root, shade=8, test=test
    )
    assert runtime.services is not None
    assert runtime.enqueuer is not None
    first = StageRunner(runtime.services, test_registry, enqueuer=runtime.enqueuer, worker_id="w1")
    second = StageRunner(runtime.services, test_registry, enqueuer=runtime.enqueuer, worker_id="w2")

    async def deliver(runner: StageRunner, stage: str) -> None:
        await runner.run(job_id=str(job.id), stage=stage, retries=0, max_retries=0, trace_context={})

    await asyncio.to_thread(runtime.call, deliver(first, "probe"))

    async def race() -> None:
        await asyncio.gather(deliver(first, "scenes"), deliver(second, "scenes"), deliver(first, "scenes"))

    await asyncio.to_thread(runtime.call, race())
    stages = await stages_by_name(services.session_factory, job.id)
    assert (stages["scenes"].status, stages["scenes"].attempts) == (StageStatus.SUCCEEDED, 1)
    assert log.read_text().count("start scenes") == 1
    # A late duplicate after completion changes nothing either.
    await asyncio.to_thread(runtime.call, deliver(second, "scenes"))
    assert (await stages_by_name(services.session_factory, job.id))["scenes"].attempts == 1
    assert await count(services.session_factory, Scene, Scene.model_name == "test-scenes") == 2

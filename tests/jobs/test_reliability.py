"""Fault injection against real Redis: retries, dead letters, crashes, lost queues, duplicates,
backpressure. Worker *processes* where a crash must be real (kill -9)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dramatiq.message import Message

from app.assets.models import Asset
from app.core.container import Services
from app.core.enums import AssetStatus, JobStatus, StageStatus
from app.core.errors import BackpressureError
from app.core.settings import Settings
from app.entrypoints.job_system import job_runtime
from app.jobs import service as jobs
from app.jobs.models import Job, JobStage
from app.jobs.service import STAGE_ACTOR
from app.media.models import Scene
from app.tenancy.models import Tenant
from jobs.broker import actor_name_for, dead_letters
from jobs.registry import StageRegistry
from tests.jobs.conftest import (
    RuntimeFactory,
    WorkerProcess,
    count,
    delete_keys,
    ingest_video,
    stages_by_name,
    wait_for,
    wait_jobs,
    with_runtime,
)
from tests.jobs.media import make_video

pytestmark = pytest.mark.redis

TEST_STAGE_NAMES = ["scenes", "transcribe", "ocr", "detect", "embed", "similarity", "index"]


def run_log(path: Path) -> list[tuple[str, str, str]]:
    """(event, stage, job id) lines of the test stages' run log."""
    if not path.exists():
        return []
    return [tuple(line.split()[:3]) for line in path.read_text().splitlines()]  # type: ignore[misc]


async def test_transient_failure_twice_then_success(
    services: Services,
    redis_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    runtime = start_runtime(redis_settings, registry=test_registry, host_services=services)
    test = {"stages": {"ocr": {"transient_failures": 2}}}
    job = await ingest_video(
        with_runtime(services, redis_settings, runtime), tenant, media_root, shade=1, test=test
    )
    await wait_jobs(services.session_factory, [job.id], within=30)
    stages = await stages_by_name(services.session_factory, job.id)
    assert (stages["ocr"].status, stages["ocr"].attempts) == (StageStatus.SUCCEEDED, 3)
    # The last transient error is cleared by the success.
    assert (stages["ocr"].error_code, stages["ocr"].error_message) == (None, None)
    assert {n: s.attempts for n, s in stages.items() if n != "ocr" and n != "text"} == dict.fromkeys(
        ["probe", "scenes", "transcribe", "detect", "embed", "similarity", "index"], 1
    )
    assert runtime.broker is not None
    assert dead_letters(runtime.broker, "realtime") == []


async def test_retries_exhausted_dead_letter_and_failed_stage(
    services: Services,
    redis_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    settings = redis_settings.model_copy(update={"max_retries": 2})
    runtime = start_runtime(settings, registry=test_registry, host_services=services)
    test = {"stages": {"detect": {"transient_failures": 99}}}
    job = await ingest_video(
        with_runtime(services, settings, runtime), tenant, media_root, shade=2, test=test
    )
    await wait_jobs(services.session_factory, [job.id], within=30)
    detect = (await stages_by_name(services.session_factory, job.id))["detect"]
    # One run plus max_retries=2 retries.
    assert (detect.status, detect.attempts, detect.error_code) == (StageStatus.FAILED, 3, "TEST_FLAKY")
    assert detect.error_message == "detect failed on attempt 3 (gave up after 3 attempts)"
    async with services.session_factory() as session:
        failed = await session.get(Job, job.id)
    assert failed is not None
    assert (failed.status, failed.current_stage, failed.error_code) == (
        JobStatus.FAILED,
        "detect",
        "TEST_FLAKY",
    )
    assert runtime.broker is not None

    async def dead_lettered() -> bool:
        return len(dead_letters(runtime.broker, "realtime")) == 1  # type: ignore[arg-type]

    await wait_for(dead_lettered, within=5, what="the dead letter")
    (dead,) = dead_letters(runtime.broker, "realtime")
    # Redis keeps the message as last enqueued: after its second (and last) retry.
    assert (dead.actor_name, dead.kwargs, dead.options["retries"]) == (
        actor_name_for(STAGE_ACTOR, "realtime"),
        {"job_id": str(job.id), "stage": "detect"},
        2,
    )


async def test_permanent_failure_dead_letters_then_retry_job_completes(
    services: Services,
    redis_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    tmp_path: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    runtime = start_runtime(redis_settings, registry=test_registry, host_services=services)
    svc = with_runtime(services, redis_settings, runtime)
    poison = tmp_path / "poison"
    poison.write_text("cause")
    log = tmp_path / "runs.log"
    test = {"log": str(log), "stages": {"embed": {"poison_file": str(poison)}}}
    job = await ingest_video(svc, tenant, media_root, shade=3, test=test)
    await wait_jobs(services.session_factory, [job.id], within=30)

    stages = await stages_by_name(services.session_factory, job.id)
    embed = stages["embed"]
    # Permanent: not retried.
    assert (embed.status, embed.attempts, embed.error_code) == (StageStatus.FAILED, 1, "TEST_POISONED")
    assert embed.error_message == f"embed refuses to run while {poison} exists"
    assert (stages["similarity"].status, stages["index"].status) == (StageStatus.PENDING, StageStatus.PENDING)
    async with services.session_factory() as session:
        failed = await session.get(Job, job.id)
        asset = await session.get(Asset, job.asset_id)
    assert failed is not None
    assert asset is not None
    assert (failed.status, failed.current_stage, failed.error_code, failed.error_message) == (
        JobStatus.FAILED,
        "embed",
        "TEST_POISONED",
        embed.error_message,
    )
    assert asset.status == AssetStatus.FAILED
    assert runtime.broker is not None

    async def dead_lettered() -> bool:
        return len(dead_letters(runtime.broker, "realtime")) == 1  # type: ignore[arg-type]

    await wait_for(dead_lettered, within=5, what="the dead letter")
    assert [m.kwargs for m in dead_letters(runtime.broker, "realtime")] == [
        {"job_id": str(job.id), "stage": "embed"}
    ]
    finished_before = {
        n: (s.attempts, s.finished_at) for n, s in stages.items() if s.status == StageStatus.SUCCEEDED
    }

    poison.unlink()  # the cause is removed
    async with services.session_factory() as session:
        retried = await jobs.retry_job(
            session,
            services=with_runtime(services, redis_settings, runtime),
            tenant_id=tenant.id,
            job_id=job.id,
            actor="test",
        )
        await session.commit()
    assert retried.attempts == 2
    await wait_jobs(services.session_factory, [job.id], within=30)
    stages = await stages_by_name(services.session_factory, job.id)
    assert {n: s.status for n, s in stages.items() if n != "text"} == dict.fromkeys(
        ["probe", *TEST_STAGE_NAMES], StageStatus.SUCCEEDED
    )
    # Finished stages were not redone: same attempts, same finish time, no second run logged.
    assert {n: (stages[n].attempts, stages[n].finished_at) for n in finished_before} == finished_before
    starts = [(stage) for event, stage, _ in run_log(log) if event == "start"]
    assert sorted(starts) == sorted([*TEST_STAGE_NAMES, "embed"])
    assert stages["embed"].attempts == 2
    assert await count(services.session_factory, Scene, Scene.asset_id == job.asset_id) == 7 * 2


async def test_backpressure_refuses_the_sixth_job_and_loses_nothing(
    services: Services,
    redis_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    settings = redis_settings.model_copy(update={"queue_bound": 5})
    # No worker yet: the queue fills up.
    runtime = start_runtime(
        settings, registry=test_registry, host_services=services, workers=False, sweeper=False
    )
    svc = with_runtime(services, settings, runtime)
    accepted = [await ingest_video(svc, tenant, media_root, shade=i) for i in range(5)]
    with pytest.raises(BackpressureError) as refused:
        await ingest_video(svc, tenant, media_root, shade=5)
    assert refused.value.code == "BACKPRESSURE"
    assert 1.0 <= refused.value.retry_after_s <= 300.0
    assert "realtime queue is full (5 unfinished jobs, bound 5)" in refused.value.message
    # The refused ingest left nothing behind; the accepted ones are all there and queued.
    assert await count(services.session_factory, Asset) == 5
    assert await count(services.session_factory, Job) == 5
    # The batch queue has its own bound.
    await ingest_video(svc, tenant, media_root, shade=6, queue="batch")

    worker = start_runtime(settings, registry=test_registry, host_services=services)
    ids = [j.id for j in accepted]
    await wait_jobs(services.session_factory, ids, within=60)
    assert await count(services.session_factory, Job, Job.status == JobStatus.SUCCEEDED, Job.id.in_(ids)) == 5
    # Once the queue drained, the sixth goes through.
    sixth = await ingest_video(with_runtime(services, settings, worker), tenant, media_root, shade=5)
    await wait_jobs(services.session_factory, [sixth.id], within=30)
    assert await count(services.session_factory, Job, Job.status == JobStatus.SUCCEEDED) >= 6


async def test_flushed_redis_queues_are_recovered_by_the_sweeper(
    services: Services,
    redis_settings: Settings,
    redis_url: str,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    runtime = start_runtime(redis_settings, registry=test_registry, host_services=services)
    svc = with_runtime(services, redis_settings, runtime)
    test = {"stages": {"scenes": {"sleep_s": 0.6, "steps": 3}}}
    created = [await ingest_video(svc, tenant, media_root, shade=i, test=test) for i in range(6)]
    ids = [j.id for j in created]

    async def in_flight() -> bool:
        return await count(services.session_factory, JobStage, JobStage.status == StageStatus.RUNNING) > 0

    await wait_for(in_flight, within=20, what="stages in flight")
    queued = await count(services.session_factory, JobStage, JobStage.status == StageStatus.QUEUED)
    deleted = delete_keys(redis_url, redis_settings.redis_key_prefix)
    flushed_at = time.monotonic()
    assert queued > 0
    assert deleted > 0
    await wait_jobs(services.session_factory, ids, within=60)
    recovery = time.monotonic() - flushed_at
    assert await count(services.session_factory, Job, Job.status == JobStatus.SUCCEEDED) == 6
    assert await count(services.session_factory, Scene) == 6 * 7 * 2
    resent = sum(len(r.resent) for r in runtime.sweep_reports)
    assert resent > 0, "the sweeper, not the broker, found the lost stages"
    print(f"flushed {deleted} keys with {queued} stages queued; all 6 jobs done {recovery:.1f} s later")  # noqa: T201


async def ingest_for_workers(
    services: Services,
    settings: Settings,
    tenant: Tenant,
    media_root: Path,
    test: dict[str, Any],
    *,
    videos: int,
) -> list[Job]:
    """``videos`` videos whose jobs are queued on the broker for worker processes: the test
    enqueues through a runtime with no worker threads and no sweeper of its own."""
    from app.entrypoints.job_system import job_runtime

    sender = job_runtime(settings, workers=False, sweeper=False)
    sender.start()
    try:
        svc = with_runtime(services, settings, sender)
        return [await ingest_video(svc, tenant, media_root, shade=i, test=test) for i in range(videos)]
    finally:
        await asyncio.to_thread(sender.stop, 0)


async def test_kill_9_mid_stage_ten_times(
    services: Services,
    redis_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    tmp_path: Path,
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    # A job's stage may be the one killed in several rounds: a crash budget (max_retries + 1
    # starts, then STAGE_CRASHED) above the ten kills, so every kill is recovered from.
    redis_settings = redis_settings.model_copy(update={"max_retries": 10})
    log = tmp_path / "runs.log"
    test = {"log": str(log), "stages": {"scenes": {"sleep_s": 1.5, "steps": 15, "rows": 3}}}
    created = await ingest_for_workers(services, redis_settings, tenant, media_root, test, videos=10)
    ids = [j.id for j in created]
    killed_jobs: list[str] = []
    for round_ in range(10):
        worker = spawn_worker(redis_settings, threads=2)
        await worker.ready()
        seen = len(run_log(log))

        async def mid_stage(skip: int = seen) -> bool:
            # A scenes run that started in this round and has not ended.
            lines = run_log(log)[skip:]
            started = {job for event, stage, job in lines if event == "start" and stage == "scenes"}
            ended = {job for event, stage, job in lines if event == "end" and stage == "scenes"}
            return bool(started - ended)

        await wait_for(mid_stage, within=30, what=f"a scenes stage to be mid-run (round {round_})")
        lines = run_log(log)[seen:]
        running = {j for e, s, j in lines if e == "start" and s == "scenes"} - {
            j for e, s, j in lines if e == "end" and s == "scenes"
        }
        worker.kill9()
        killed_jobs.extend(sorted(running))
    # Every round killed a worker in the middle of a stage.
    assert len(killed_jobs) >= 10

    restart = time.monotonic()
    final = spawn_worker(redis_settings, threads=2)
    await final.ready()
    await wait_jobs(services.session_factory, ids, within=120)
    recovery = time.monotonic() - restart
    assert await count(services.session_factory, Job, Job.status == JobStatus.SUCCEEDED) == 10
    # No duplicated rows: exactly each stage's rows per asset, despite the re-runs.
    assert await count(services.session_factory, Scene) == 10 * (6 * 2 + 3)
    for job_id in ids:
        stages = await stages_by_name(services.session_factory, job_id)
        assert {s.status for n, s in stages.items() if n != "text"} == {StageStatus.SUCCEEDED}
    reruns = [j for e, s, j in run_log(log) if e == "start" and s == "scenes"]
    assert len(reruns) > 10, "killed stages were run again"
    most = max(killed_jobs.count(j) for j in set(killed_jobs))
    print(  # noqa: T201
        f"{len(killed_jobs)} stages killed mid-run ({len(set(killed_jobs))} jobs, at most {most} kills "
        f"of one); all 10 jobs done {recovery:.1f} s after the restart"
    )


async def test_same_message_to_two_workers_runs_the_stage_once(
    services: Services,
    redis_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    tmp_path: Path,
    spawn_worker: Callable[..., WorkerProcess],
    start_runtime: RuntimeFactory,
) -> None:
    sender = start_runtime(redis_settings, workers=False, sweeper=False)
    log = tmp_path / "runs.log"
    test = {"log": str(log), "stages": {"scenes": {"sleep_s": 1.0, "steps": 5}}}
    # Without a broker the stages stay PENDING; the test delivers scenes itself.
    job = await ingest_video(
        with_runtime(services, redis_settings, None), tenant, media_root, shade=1, test=test
    )
    async with services.session_factory() as session:
        probe = await session.get(
            JobStage, (await stages_by_name(services.session_factory, job.id))["probe"].id
        )
        assert probe is not None
        probe.status = StageStatus.SUCCEEDED
        await session.commit()
    message: Message[None] = Message(
        queue_name="realtime",
        actor_name=actor_name_for(STAGE_ACTOR, "realtime"),
        args=(),
        kwargs={"job_id": str(job.id), "stage": "scenes"},
        options={},
    )
    # Prefetch 1: each worker takes one copy, so the two copies run concurrently.
    env = {"dramatiq_queue_prefetch": "1", "MEDIAKG_SWEEPER_INTERVAL_SECONDS": "60"}
    first, second = (
        spawn_worker(redis_settings, threads=1, env=env),
        spawn_worker(redis_settings, threads=1, env=env),
    )
    await asyncio.gather(first.ready(), second.ready())
    assert sender.broker is not None
    sender.broker.enqueue(message)
    sender.broker.enqueue(message)  # the same message id, delivered twice

    async def scenes_done() -> bool:
        return (await stages_by_name(services.session_factory, job.id))[
            "scenes"
        ].status == StageStatus.SUCCEEDED

    await wait_for(scenes_done, within=30, what="scenes to finish")

    async def both_delivered() -> bool:
        return "running elsewhere" in first.output() + second.output() or (
            "duplicate message ignored" in first.output() + second.output()
        )

    await wait_for(both_delivered, within=10, what="the second delivery to be refused")
    starts = [s for e, s, _ in run_log(log) if e == "start" and s == "scenes"]
    assert starts == ["scenes"]
    scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
    assert scenes.attempts == 1
    assert await count(services.session_factory, Scene, Scene.model_name == "test-scenes") == 2


async def test_heartbeat_keeps_long_stages_and_a_killed_workers_stage_is_taken_over(
    services: Services,
    redis_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    tmp_path: Path,
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    from app.core.db import utcnow

    # A lease of 2 s renewed every 0.4 s; each scenes run lasts 8 s, four leases.
    settings = redis_settings.model_copy(update={"stage_lease_seconds": 2.0, "stage_heartbeat_seconds": 0.4})
    log = tmp_path / "runs.log"
    test = {"log": str(log), "stages": {"scenes": {"sleep_s": 8.0, "steps": 40, "rows": 3}}}
    created = await ingest_for_workers(services, settings, tenant, media_root, test, videos=2)

    # Two workers with one thread each, both sweeping: if a running stage's lease were not
    # renewed, a sweeper would take the stage back and it would run a second time.
    workers = [spawn_worker(settings, threads=1) for _ in range(2)]
    for worker in workers:
        await worker.ready()

    def scenes_runs(job: Job) -> int:
        return sum(1 for e, s, j in run_log(log) if (e, s, j) == ("start", "scenes", str(job.id)))

    async def scenes_mid_run() -> bool:
        return any(scenes_runs(job) == 1 for job in created)

    await wait_for(scenes_mid_run, within=60, what="a scenes stage to run")
    killed = next(job for job in created if scenes_runs(job) == 1)
    (kept,) = [job for job in created if job is not killed]
    owner = (await stages_by_name(services.session_factory, killed.id))["scenes"].lease_owner
    assert owner is not None
    victim = next(w for w in workers if owner.startswith(f"{socket.gethostname()}:{w.process.pid}/"))
    survivor = next(w for w in workers if w is not victim)
    victim.kill9()
    killed_at = time.monotonic()

    async def waiting() -> bool:
        stages = await stages_by_name(services.session_factory, killed.id)
        return jobs.waiting_to_resume(stages["scenes"], utcnow())

    # Its lease runs out: the job shows it waits to resume (Job.waitingToResume in the API).
    await wait_for(waiting, within=30, what="the killed stage to wait for another worker")
    waited = time.monotonic() - killed_at

    await wait_jobs(services.session_factory, [kept.id, killed.id], within=120)
    done = time.monotonic() - killed_at
    kept_scenes = (await stages_by_name(services.session_factory, kept.id))["scenes"]
    killed_scenes = (await stages_by_name(services.session_factory, killed.id))["scenes"]
    # The stage nobody killed ran once, its lease renewed for four lease periods.
    assert (kept_scenes.status, kept_scenes.attempts, scenes_runs(kept)) == (StageStatus.SUCCEEDED, 1, 1)
    # The killed one was taken over by the survivor, and no longer waits.
    assert (killed_scenes.status, killed_scenes.attempts, scenes_runs(killed)) == (
        StageStatus.SUCCEEDED,
        2,
        2,
    )
    assert not jobs.waiting_to_resume(killed_scenes, utcnow())
    pids = {line.split()[3] for line in log.read_text().splitlines() if f"scenes {killed.id}" in line}
    assert pids == {str(victim.process.pid), str(survivor.process.pid)}
    assert await count(services.session_factory, Scene, Scene.asset_id == killed.asset_id) == 2 * 6 + 3
    print(  # noqa: T201
        f"killed mid-stage: waiting to resume after {waited:.1f} s, its job done {done:.1f} s "
        "after the kill (lease 2 s, heartbeat 0.4 s, sweep 0.3 s)"
    )


async def test_graceful_stop_leaves_no_dramatiq_heartbeat(
    services: Services,
    redis_settings: Settings,
    redis_url: str,
    tenant: Tenant,
    media_root: Path,
    test_registry: StageRegistry,
) -> None:
    """A worker stopped gracefully takes its entry out of Dramatiq's ``__heartbeats__`` set:
    after the last process stopped, the key is gone (it used to stay forever)."""
    import redis

    runtime = job_runtime(redis_settings, registry=test_registry, host_services=services)
    await asyncio.to_thread(runtime.start)
    key = f"{redis_settings.redis_key_prefix}:__heartbeats__"
    client = redis.Redis.from_url(redis_url)
    try:
        job = await ingest_video(with_runtime(services, redis_settings, runtime), tenant, media_root, shade=1)
        await wait_jobs(services.session_factory, [job.id], within=60)
        assert client.zcard(key) >= 1  # the worker beat while it ran
        await asyncio.to_thread(runtime.stop, 5.0)
        assert not client.exists(key)
    finally:
        client.close()


async def test_cli_ingest_sends_its_job_after_commit(
    services: Services,
    redis_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    """`mediakg ingest` on an external broker sends its job after commit, like the API: a
    worker runs it with no sweeper to re-send it (it used to wait for one)."""
    import os
    import subprocess
    import sys

    from sqlalchemy import select

    path = make_video(media_root / "cli.mp4", shade=3)
    env = {
        **os.environ,
        "MEDIAKG_DATA_DIR": str(redis_settings.data_dir),
        "MEDIAKG_DATABASE_URL": redis_settings.database_url,
        "MEDIAKG_AUTO_MIGRATE": "false",
        "MEDIAKG_BROKER_URL": redis_settings.broker_url,
        "MEDIAKG_REDIS_KEY_PREFIX": redis_settings.redis_key_prefix,
        "MEDIAKG_ALLOWED_ROOTS": str(media_root),
        "MEDIAKG_DEFAULT_TENANT": redis_settings.default_tenant,
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.entrypoints.cli", "ingest", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    async with services.session_factory() as session:
        job_ids = list((await session.scalars(select(Job.id))).all())
    assert len(job_ids) == 1
    start_runtime(redis_settings, registry=test_registry, host_services=services, sweeper=False)
    await wait_jobs(services.session_factory, job_ids, within=60)
    assert await count(services.session_factory, Job, Job.status == JobStatus.SUCCEEDED) == 1

"""The job system on RabbitMQ (``amqp://``), against the real server on this machine.

Each test gets a virtual host of its own, created with ``rabbitmqctl`` and deleted
afterwards, so runs sharing the server never meet (queue names carry the key prefix too).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.container import Services
from app.core.enums import JobStatus, StageStatus
from app.core.settings import Settings
from app.core.telemetry import QueueStat
from app.entrypoints.job_system import job_runtime
from app.jobs.models import Job
from app.jobs.service import STAGE_ACTOR
from app.tenancy.models import Tenant
from inference.triton.launcher import free_port
from jobs.broker import actor_name_for, dead_letters
from jobs.registry import StageRegistry
from tests.fixtures.processes import rabbitmq_vhost
from tests.jobs.conftest import (
    RuntimeFactory,
    ingest_video,
    stages_by_name,
    wait_for,
    wait_jobs,
    with_runtime,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def rabbitmq_settings(job_settings: Settings) -> Iterator[Settings]:
    """``job_settings`` on a fresh RabbitMQ virtual host of this test."""
    with rabbitmq_vhost() as url:
        yield job_settings.model_copy(update={"broker_url": url})


async def test_job_completes_over_rabbitmq_with_a_transient_retry(
    services: Services,
    rabbitmq_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    runtime = start_runtime(rabbitmq_settings, registry=test_registry, host_services=services)
    svc = with_runtime(services, rabbitmq_settings, runtime)
    test = {"stages": {"ocr": {"transient_failures": 1}}}
    jobs = [
        await ingest_video(svc, tenant, media_root, shade=1, test=test),
        await ingest_video(svc, tenant, media_root, shade=2, queue="batch"),
    ]
    await wait_jobs(services.session_factory, [job.id for job in jobs], within=60)
    for job in jobs:
        stages = await stages_by_name(services.session_factory, job.id)
        assert {name: stage.status for name, stage in stages.items()} == {
            name: StageStatus.SKIPPED if name == "text" else StageStatus.SUCCEEDED
            for name in [
                "probe",
                "text",
                "scenes",
                "transcribe",
                "ocr",
                "detect",
                "embed",
                "similarity",
                "index",
            ]
        }
    first = await stages_by_name(services.session_factory, jobs[0].id)
    assert first["ocr"].attempts == 2
    async with services.session_factory() as session:
        statuses = [(await session.get(Job, job.id)) for job in jobs]
    assert [job.status if job else None for job in statuses] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]


async def test_permanent_failure_lands_in_the_dead_letter_queue_and_is_listed_without_consuming(
    services: Services,
    rabbitmq_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    tmp_path: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    runtime = start_runtime(rabbitmq_settings, registry=test_registry, host_services=services)
    poison = tmp_path / "poison"
    poison.write_text("cause")
    test = {"stages": {"embed": {"poison_file": str(poison)}}}
    job = await ingest_video(
        with_runtime(services, rabbitmq_settings, runtime), tenant, media_root, shade=3, test=test
    )
    await wait_jobs(services.session_factory, [job.id], within=60)
    embed = (await stages_by_name(services.session_factory, job.id))["embed"]
    assert (embed.status, embed.attempts, embed.error_code) == (StageStatus.FAILED, 1, "TEST_POISONED")
    broker = runtime.broker
    assert broker is not None

    async def dead_lettered() -> bool:
        return len(await asyncio.to_thread(dead_letters, broker, "realtime")) == 1

    await wait_for(dead_lettered, within=10, what="the dead letter on realtime.XQ")
    listings = [await asyncio.to_thread(dead_letters, broker, "realtime") for _ in range(2)]
    # Listing hands every message back: the second listing sees the same one.
    for (dead,) in listings:
        assert (dead.actor_name, dead.kwargs) == (
            actor_name_for(STAGE_ACTOR, "realtime"),
            {"job_id": str(job.id), "stage": "embed"},
        )
    assert listings[0][0].message_id == listings[1][0].message_id
    assert await asyncio.to_thread(dead_letters, broker, "batch") == []
    stats = {stat.queue: stat for stat in await asyncio.to_thread(runtime.queue_stats)}
    assert stats["realtime"].dead_letters == 1
    assert stats["batch"].dead_letters == 0


async def test_queue_stats_report_depth_and_oldest_age_without_consuming(
    rabbitmq_settings: Settings, start_runtime: RuntimeFactory
) -> None:
    # No workers: what is sent stays queued.
    runtime = start_runtime(rabbitmq_settings, registry=StageRegistry(), workers=False, sweeper=False)
    assert runtime.enqueuer is not None
    sent_at = time.time()
    for i in range(5):
        runtime.enqueuer.send(STAGE_ACTOR, queue="batch", args={"job_id": f"job-{i}", "stage": "probe"})
    # Delayed (a retry waiting out its backoff): counted in the depth, not in the age.
    for i in range(2):
        runtime.enqueuer.send(
            STAGE_ACTOR, queue="realtime", args={"job_id": f"late-{i}", "stage": "probe"}, delay_ms=600_000
        )
    await asyncio.sleep(1.0)
    first = {stat.queue: stat for stat in await asyncio.to_thread(runtime.queue_stats)}
    waited = time.time() - sent_at
    assert first["realtime"] == QueueStat("realtime", depth=2, oldest_age_s=0.0, dead_letters=0)
    assert (first["batch"].depth, first["batch"].dead_letters) == (5, 0)
    assert 1.0 <= first["batch"].oldest_age_s <= waited + 0.5
    # Peeking at the head handed it back: same depth, and the head is still the oldest.
    second = {stat.queue: stat for stat in await asyncio.to_thread(runtime.queue_stats)}
    assert second["batch"].depth == 5
    assert second["batch"].oldest_age_s >= first["batch"].oldest_age_s
    assert runtime.broker is not None
    batch = f"{rabbitmq_settings.redis_key_prefix}.batch"
    assert runtime.broker.get_queue_message_counts(batch) == (5, 0, 0)  # type: ignore[attr-defined]


async def test_two_deployments_share_a_virtual_host_without_sharing_queues(
    rabbitmq_settings: Settings, start_runtime: RuntimeFactory
) -> None:
    """Queue names carry the deployment's prefix (``MEDIAKG_REDIS_KEY_PREFIX``): what one
    deployment sends, the other neither counts nor could consume."""
    one = start_runtime(
        rabbitmq_settings.model_copy(update={"redis_key_prefix": "one"}),
        registry=StageRegistry(),
        workers=False,
        sweeper=False,
    )
    two = start_runtime(
        rabbitmq_settings.model_copy(update={"redis_key_prefix": "two"}),
        registry=StageRegistry(),
        workers=False,
        sweeper=False,
    )
    assert one.enqueuer is not None
    for i in range(3):
        one.enqueuer.send(STAGE_ACTOR, queue="batch", args={"job_id": f"job-{i}", "stage": "probe"})
    await asyncio.sleep(0.5)
    assert {s.queue: s.depth for s in await asyncio.to_thread(one.queue_stats)} == {"batch": 3, "realtime": 0}
    assert {s.queue: s.depth for s in await asyncio.to_thread(two.queue_stats)} == {"batch": 0, "realtime": 0}
    vhost = rabbitmq_settings.broker_url.rsplit("/", 1)[1]
    listed = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "list_queues", "-p", vhost, "-q", "--no-table-headers", "name"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Dramatiq declares a queue on first use: the one deployment sent to one.batch only.
    assert set(listed.stdout.split()) == {"one.batch", "one.batch.DQ", "one.batch.XQ"}


async def test_broker_health_follows_the_connection(
    rabbitmq_settings: Settings, start_runtime: RuntimeFactory
) -> None:
    live = start_runtime(rabbitmq_settings, registry=StageRegistry(), workers=False, sweeper=False)
    assert await asyncio.to_thread(live.broker_healthy) is True
    # Nothing listens on that port: the connection is refused at once.
    gone = start_runtime(
        rabbitmq_settings.model_copy(
            update={"broker_url": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"}
        ),
        registry=StageRegistry(),
        workers=False,
        sweeper=False,
    )
    started = time.monotonic()
    assert await asyncio.to_thread(gone.broker_healthy) is False
    assert time.monotonic() - started < 5.0


async def test_workers_on_rabbitmq_are_seen_alive_through_the_event_redis(
    rabbitmq_settings: Settings, redis_settings: Settings, redis_url: str, start_runtime: RuntimeFactory
) -> None:
    """RabbitMQ has no place for heartbeats: workers beat in the event Redis (pubsub_url) that a
    multi-process deployment has anyway, and systemStatus's source sees them come and go."""
    # The test's own Redis namespace (redis_settings deletes its keys afterwards).
    settings = rabbitmq_settings.model_copy(
        update={"pubsub_url": redis_url, "redis_key_prefix": redis_settings.redis_key_prefix}
    )
    api = start_runtime(settings, registry=StageRegistry(), workers=False, sweeper=False)
    assert await asyncio.to_thread(api.workers_alive) == {}
    worker = job_runtime(settings, registry=StageRegistry(), sweeper=False, worker_id="rabbit-worker-1")
    worker.start()
    try:

        async def seen() -> bool:
            return "rabbit-worker-1" in await asyncio.to_thread(api.workers_alive)

        await wait_for(seen, within=5, what="the worker's heartbeat")
        report = (await asyncio.to_thread(api.workers_alive))["rabbit-worker-1"]
        assert report["seen_s_ago"] < 5
        assert report["models"] == []
    finally:
        await asyncio.to_thread(worker.stop, 1.0)
    # A worker that stops takes its heartbeat with it at once (not after the timeout).
    assert await asyncio.to_thread(api.workers_alive) == {}

"""Fixtures of the job-system tests: fast lease/sweep settings, a per-test Redis namespace,
in-process runtimes, worker subprocesses and media assets with test-stage instructions."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.service import ingest_path
from app.core.container import Services
from app.core.enums import JobStatus
from app.core.settings import Settings
from app.entrypoints.job_system import job_runtime
from app.jobs.models import Job, JobStage
from app.tenancy.models import Tenant
from jobs.registry import DEFAULT_STAGE_MODULES, StageRegistry, build_registry
from jobs.runtime import JobRuntime
from tests.jobs.media import make_video

ROOT = Path(__file__).resolve().parents[2]
TEST_MODULES = [*DEFAULT_STAGE_MODULES, "tests.jobs.stagelib"]


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    """Settings with short leases and sweeps so recovery happens within a test."""
    return settings.model_copy(
        update={
            "stage_lease_seconds": 2.0,
            "stage_message_lost_seconds": 2.0,
            "sweeper_interval_seconds": 0.3,
            "retry_min_backoff_ms": 50,
            "retry_max_backoff_ms": 200,
            "max_retries": 3,
            "worker_threads": 2,
            "pubsub_url": "memory://",
        }
    )


@pytest.fixture
def redis_settings(job_settings: Settings, redis_url: str, redis_prefix: str) -> Iterator[Settings]:
    """``job_settings`` on the test Redis, in a namespace of this test only (deleted after)."""
    prefix = f"{redis_prefix}_{uuid.uuid4().hex[:8]}"
    yield job_settings.model_copy(update={"broker_url": redis_url, "redis_key_prefix": prefix})
    delete_keys(redis_url, prefix)


def delete_keys(redis_url: str, prefix: str) -> int:
    """Delete every key of ``prefix`` (never anything else: other runs share the server)."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


@pytest.fixture
def test_registry() -> StageRegistry:
    """The real probe plus the test stages."""
    return build_registry(TEST_MODULES)


RuntimeFactory = Callable[..., JobRuntime]


@pytest.fixture
async def start_runtime() -> AsyncIterator[RuntimeFactory]:
    """Start in-process job runtimes; all are stopped at the end of the test."""
    started: list[JobRuntime] = []

    def factory(settings: Settings, **kwargs: Any) -> JobRuntime:
        runtime = job_runtime(settings, **kwargs)
        runtime.start()
        started.append(runtime)
        return runtime

    yield factory
    for runtime in reversed(started):
        await asyncio.to_thread(runtime.stop, 1.0)


@asynccontextmanager
async def consuming(runtime: JobRuntime) -> AsyncIterator[dramatiq.Worker]:
    """A Dramatiq worker (one thread, as `mediakg worker --threads 1`) on the broker of a
    runtime started without workers: the real delivery, retry and dead-letter path of the
    messages queued so far."""
    assert runtime.broker is not None
    worker = dramatiq.Worker(runtime.broker, worker_threads=1)
    worker.start()
    try:
        yield worker
    finally:
        await asyncio.to_thread(worker.stop)


def with_runtime(services: Services, settings: Settings, runtime: JobRuntime | None) -> Services:
    """The test's services with ``settings`` and the runtime's enqueuer (None: no broker)."""
    return dataclasses.replace(services, settings=settings, enqueuer=runtime.enqueuer if runtime else None)


async def ingest_video(
    services: Services,
    tenant: Tenant,
    media_root: Path,
    *,
    shade: int,
    test: dict[str, Any] | None = None,
    queue: str = "realtime",
    **video: Any,
) -> Job:
    """Make a distinct clip, ingest it with test-stage instructions; its job."""
    path = make_video(media_root / f"clip{shade}.mp4", shade=shade, **video)
    async with services.session_factory() as session:
        result = await ingest_path(
            session,
            services=services,
            tenant_id=tenant.id,
            path=path,
            actor="test",
            metadata={"test": test or {}},
            queue=queue,
        )
        await session.commit()
    assert result.job is not None
    return result.job


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.05, what: str = "condition"
) -> float:
    """Poll ``check`` until true; seconds waited. Fails the test after ``within`` seconds."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > within:
            pytest.fail(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(interval)
    return time.monotonic() - start


async def job_statuses(factory: async_sessionmaker[AsyncSession], ids: list[uuid.UUID]) -> list[JobStatus]:
    """Statuses of the jobs, in order."""
    async with factory() as session:
        rows = {
            row.id: row.status
            for row in await session.execute(select(Job.id, Job.status).where(Job.id.in_(ids)))
        }
    return [rows[i] for i in ids]


async def wait_jobs(
    factory: async_sessionmaker[AsyncSession],
    ids: list[uuid.UUID],
    *,
    within: float,
    done: tuple[JobStatus, ...] = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED),
) -> float:
    """Wait until every job is in one of ``done``."""

    async def check() -> bool:
        return all(s in done for s in await job_statuses(factory, ids))

    return await wait_for(check, within=within, interval=0.1, what=f"{len(ids)} jobs to finish")


async def stages_by_name(factory: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> dict[str, JobStage]:
    """The job's stage rows by name."""
    async with factory() as session:
        rows = await session.scalars(select(JobStage).where(JobStage.job_id == job_id))
        return {row.name: row for row in rows}


async def count(factory: async_sessionmaker[AsyncSession], model: Any, *where: Any) -> int:
    """Rows of ``model`` matching ``where``."""
    async with factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


class WorkerProcess:
    """A real ``python -m app.entrypoints.worker_cli worker`` subprocess sharing the database and blobs."""

    def __init__(
        self, settings: Settings, log_path: Path, *, threads: int = 2, env: dict[str, str] | None = None
    ):
        self.log_path = log_path
        environment = {
            **os.environ,
            "MEDIAKG_DATABASE_URL": settings.database_url,
            "MEDIAKG_DATA_DIR": str(settings.data_dir),
            "MEDIAKG_BLOB_URL": settings.blob_url,
            "MEDIAKG_BROKER_URL": settings.broker_url,
            "MEDIAKG_PUBSUB_URL": "memory://",
            "MEDIAKG_REDIS_KEY_PREFIX": settings.redis_key_prefix,
            "MEDIAKG_STAGE_LEASE_SECONDS": str(settings.stage_lease_seconds),
            "MEDIAKG_STAGE_HEARTBEAT_SECONDS": str(settings.stage_heartbeat_seconds),
            "MEDIAKG_STAGE_MESSAGE_LOST_SECONDS": str(settings.stage_message_lost_seconds),
            "MEDIAKG_SWEEPER_INTERVAL_SECONDS": str(settings.sweeper_interval_seconds),
            "MEDIAKG_RETRY_MIN_BACKOFF_MS": str(settings.retry_min_backoff_ms),
            "MEDIAKG_RETRY_MAX_BACKOFF_MS": str(settings.retry_max_backoff_ms),
            "MEDIAKG_MAX_RETRIES": str(settings.max_retries),
            # The test settings' choice (off): loading every stage model would slow each start.
            "MEDIAKG_WARM_MODELS": str(settings.warm_models).lower(),
            "MEDIAKG_LOG_LEVEL": "INFO",
            "MEDIAKG_LOG_JSON": "false",
            **(env or {}),
        }
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.entrypoints.worker_cli",
                "worker",
                "--processes",
                "1",
                "--threads",
                str(threads),
                "--stage-module",
                "tests.jobs.stagelib",
                "--grace",
                "1",
            ],
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        """Everything the worker logged so far."""
        return self.log_path.read_text(errors="replace")

    async def ready(self, within: float = 90.0) -> None:
        """Wait for the worker's ready line."""

        async def check() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode}:\n{self.output()}")
            return "worker ready" in self.output()

        await wait_for(check, within=within, interval=0.05, what="the worker to start")

    def kill9(self) -> None:
        """SIGKILL: no cleanup, no lease release (a crashed node)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def close(self) -> None:
        """Stop it (gracefully, then for sure)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker subprocesses; every one is stopped (or killed) at the end of the test."""
    workers: list[WorkerProcess] = []

    def spawn(settings: Settings, **kwargs: Any) -> WorkerProcess:
        worker = WorkerProcess(settings, tmp_path / f"worker{len(workers)}.log", **kwargs)
        workers.append(worker)
        return worker

    yield spawn
    for worker in workers:
        worker.close()

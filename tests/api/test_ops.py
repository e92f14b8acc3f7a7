"""systemStatus and Job.cost: the operations views a dashboard builds on the API."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.assets.service import ingest_path
from app.core.container import Services
from app.core.enums import JobStatus
from app.core.settings import Settings
from app.core.telemetry import cost
from app.core.telemetry import metrics as telemetry_metrics
from app.entrypoints.job_system import job_runtime
from app.jobs.models import Job
from app.tenancy.models import Tenant
from inference.config import InferenceConfig
from jobs.registry import StageRegistry
from jobs.runtime import JobRuntime
from tests.api.conftest import GraphQLClient, operation
from tests.jobs.conftest import delete_keys, wait_jobs

NO_RUNTIME_BACKENDS = [
    {"name": "database", "healthy": True, "detail": "ok"},
    {"name": "broker", "healthy": None, "detail": "no job runtime in this process"},
    # The embedded index before the first index stage created a generation.
    {"name": "search", "healthy": False, "detail": "embedded: no live generation"},
    {"name": "inference", "healthy": None, "detail": "no live worker to report it"},
]


# The default policy: the fast model first on realtime jobs, its unsure segments re-run on the
# accurate model (thresholds: inference/calibration/transcribe.json); batch jobs get the accurate one.
DEFAULT_ROUTING = [
    {
        "task": "transcribe",
        "queue": "realtime",
        "model": "whisper-tiny.en:ct2-int8-1",
        "escalatesTo": "whisper-base:ct2-int8-1",
        "escalationRule": "segment mean word probability < 0.75",
        "escalation": "followup",
        # The tests' settings turn the upgrade pass off (tests/conftest.py).
        "upgradesTo": None,
    },
    {
        "task": "transcribe",
        "queue": "batch",
        "model": "whisper-base:ct2-int8-1",
        "escalatesTo": None,
        "escalationRule": None,
        "escalation": None,
        "upgradesTo": None,
    },
]


def _status(body: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = body["data"]["systemStatus"]
    assert isinstance(status.pop("checkedAt"), str)
    return status


@pytest.fixture
def metrics() -> Iterator[telemetry_metrics.Metrics]:
    """Fresh process metrics, current before a runtime registers its queue probe."""
    fresh = telemetry_metrics.Metrics.create(process_collectors=False, shutdown_on_exit=False)
    previous = telemetry_metrics.use_metrics(fresh)
    try:
        yield fresh
    finally:
        telemetry_metrics.use_metrics(previous)
        fresh.shutdown()


RuntimeStarter = Callable[..., JobRuntime]


@pytest.fixture
async def start_runtime(services: Services) -> AsyncIterator[RuntimeStarter]:
    """Start a job runtime and make it this API process's (as ``mediakg serve`` does)."""
    started: list[JobRuntime] = []

    def start(settings: Settings, **kwargs: Any) -> JobRuntime:
        runtime = job_runtime(settings, host_services=services, **kwargs)
        runtime.start()
        started.append(runtime)
        services.enqueuer = runtime.enqueuer
        services.extras["jobs"] = runtime
        return runtime

    yield start
    services.extras.pop("jobs", None)
    for runtime in reversed(started):
        await asyncio.to_thread(runtime.stop, 1.0)


async def _ingest(services: Services, tenant: Tenant, path: Path, *, queue: str) -> uuid.UUID:
    async with services.session_factory() as session:
        result = await ingest_path(
            session, services=services, tenant_id=tenant.id, path=path, actor="test", queue=queue
        )
        await session.commit()
    assert result.job is not None
    return result.job.id


async def test_a_process_without_job_runtime_reports_what_it_can(gql: GraphQLClient) -> None:
    body = await gql(operation("SystemStatus"))
    assert _status(body) == {
        "queues": [],
        "workersAlive": 0,
        "workers": [],
        "modelsLoaded": [],
        "backends": NO_RUNTIME_BACKENDS,
        "breakers": [],
        "routing": DEFAULT_ROUTING,
    }


async def test_the_routing_policy_follows_the_settings(gql: GraphQLClient, services: Services) -> None:
    policy = services.settings.routing.model_copy(deep=True)
    policy.transcribe.realtime = "base"
    policy.transcribe.escalate_to = ""
    original = services.settings
    services.settings = original.model_copy(update={"routing": policy})
    try:
        body = await gql(operation("SystemStatus"))
    finally:
        services.settings = original
    assert body["data"]["systemStatus"]["routing"] == [
        {
            "task": "transcribe",
            "queue": queue,
            "model": "whisper-base:ct2-int8-1",
            "escalatesTo": None,
            "escalationRule": None,
            "escalation": None,
            "upgradesTo": None,
        }
        for queue in ("realtime", "batch")
    ]


async def test_the_routing_policy_shows_inline_escalation_and_the_upgrade_pass(
    gql: GraphQLClient, services: Services
) -> None:
    policy = services.settings.routing.model_copy(deep=True)
    policy.transcribe.escalation = "inline"
    policy.transcribe.upgrade_when_idle = True
    original = services.settings
    services.settings = original.model_copy(update={"routing": policy})
    try:
        body = await gql(operation("SystemStatus"))
    finally:
        services.settings = original
    realtime, batch = body["data"]["systemStatus"]["routing"]
    assert (realtime["escalation"], realtime["upgradesTo"]) == ("inline", "whisper-base:ct2-int8-1")
    # The batch queue already runs the accurate model: nothing to upgrade, nothing to escalate.
    assert (batch["escalation"], batch["upgradesTo"]) == (None, None)


async def test_queues_dead_letters_and_workers_of_the_embedded_runtime(
    gql: GraphQLClient,
    services: Services,
    settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeStarter,
    metrics: telemetry_metrics.Metrics,
) -> None:
    # Workers on realtime only and no stage implementations: a realtime job fails at its
    # first stage (dead-lettered), a batch job waits in its queue.
    runtime = start_runtime(
        settings.model_copy(update={"max_retries": 0}), registry=StageRegistry(), queues=["realtime"]
    )
    (media_root / "a.txt").write_text("alpha")
    (media_root / "b.txt").write_text("beta")
    failing = await _ingest(services, tenant, media_root / "a.txt", queue="realtime")
    await _ingest(services, tenant, media_root / "b.txt", queue="batch")
    await wait_jobs(services.session_factory, [failing], within=20, done=(JobStatus.FAILED,))

    status = _status(await gql(operation("SystemStatus")))
    batch, realtime = status.pop("queues")
    assert 0 < batch.pop("oldestMessageAgeSeconds") < 60
    assert batch == {"name": "batch", "depth": 1, "deadLetters": 0}
    assert realtime == {"name": "realtime", "depth": 0, "oldestMessageAgeSeconds": 0.0, "deadLetters": 1}
    assert status == {
        "workersAlive": 1,
        "workers": [{"id": runtime.worker_id, "lastSeenSecondsAgo": 0.0, "modelsLoaded": []}],
        "modelsLoaded": [],
        "backends": [
            NO_RUNTIME_BACKENDS[0],
            {"name": "broker", "healthy": True, "detail": "ok"},
            NO_RUNTIME_BACKENDS[2],
            {"name": "inference", "healthy": True, "detail": "ok"},
        ],
        "breakers": [],
        "routing": DEFAULT_ROUTING,
    }
    # The same reads feed the queue gauges at /metrics.
    gauges = {
        (family.name, sample.labels["messaging_destination_name"]): sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        if family.name.startswith("mediakg_queue_")
        for sample in family.samples
    }
    assert gauges[("mediakg_queue_depth", "batch")] == 1.0
    assert gauges[("mediakg_queue_depth", "realtime")] == 0.0
    assert gauges[("mediakg_queue_dead_letters", "realtime")] == 1.0
    assert gauges[("mediakg_queue_oldest_message_age_seconds", "batch")] > 0


async def test_an_open_breaker_makes_inference_unhealthy(
    gql: GraphQLClient, services: Services, settings: Settings, start_runtime: RuntimeStarter
) -> None:
    from inference.config import InferenceConfig
    from inference.factory import build_router
    from inference.fallback import ResilientRouter
    from inference.triton.launcher import free_port

    runtime = start_runtime(settings, registry=StageRegistry())
    # A Triton-first router whose Triton does not answer at start-up: the breaker opens and
    # calls are served locally (what a worker reports while Triton is down).
    triton_settings = settings.model_copy(
        update={"inference_url": f"grpc://127.0.0.1:{free_port()}", "triton_startup_timeout_seconds": 0.5}
    )
    router = build_router(InferenceConfig(), triton_settings)
    assert isinstance(router, ResilientRouter)
    await router.start()
    assert runtime.services is not None
    runtime.services.inference = router
    try:
        status = _status(await gql(operation("SystemStatus")))
    finally:
        runtime.services.inference = None
        await router.aclose()
    worker = runtime.worker_id
    assert status["breakers"] == [{"worker": worker, "backend": "triton", "state": "OPEN"}]
    assert status["backends"][3] == {
        "name": "inference",
        "healthy": False,
        "detail": f"breaker open: triton@{worker} (calls fall back to local)",
    }


async def test_the_api_process_reports_its_own_breaker(
    gql: GraphQLClient, services: Services, settings: Settings
) -> None:
    """The API's router embeds search queries: its breaker is listed (as the API process) and
    an open one makes inference unhealthy, with no worker alive to report anything."""
    from app.api.ops.status import API_PROCESS
    from inference.factory import build_router
    from inference.fallback import ResilientRouter
    from inference.triton.launcher import free_port

    triton_settings = settings.model_copy(
        update={"inference_url": f"grpc://127.0.0.1:{free_port()}", "triton_startup_timeout_seconds": 0.5}
    )
    router = build_router(InferenceConfig(), triton_settings)
    assert isinstance(router, ResilientRouter)
    await router.start()
    services.inference = router
    try:
        status = _status(await gql(operation("SystemStatus")))
    finally:
        services.inference = None
        await router.aclose()
    assert API_PROCESS.startswith("api:")
    assert status["breakers"] == [{"worker": API_PROCESS, "backend": "triton", "state": "OPEN"}]
    assert status["backends"][3] == {
        "name": "inference",
        "healthy": False,
        "detail": f"breaker open: triton@{API_PROCESS} (calls fall back to local)",
    }


@pytest.mark.redis
async def test_workers_alive_from_redis_heartbeats(
    gql: GraphQLClient,
    services: Services,
    settings: Settings,
    redis_url: str,
    redis_prefix: str,
    start_runtime: RuntimeStarter,
) -> None:
    prefix = f"{redis_prefix}_{uuid.uuid4().hex[:8]}"
    redis_settings = settings.model_copy(update={"broker_url": redis_url, "redis_key_prefix": prefix})
    try:
        # A worker process, and this API process's runtime without workers (as in production).
        worker = job_runtime(redis_settings, registry=StageRegistry(), worker_id="worker-1:42")
        await asyncio.to_thread(worker.start)
        try:
            start_runtime(redis_settings, registry=StageRegistry(), workers=False, sweeper=False)
            status = _status(await gql(operation("SystemStatus")))
            assert status["workersAlive"] == 1
            (seen,) = status["workers"]
            assert seen["id"] == "worker-1:42"
            assert 0 <= seen["lastSeenSecondsAgo"] < 10
            assert [q["name"] for q in status["queues"]] == ["batch", "realtime"]
            assert status["backends"][1] == {"name": "broker", "healthy": True, "detail": "ok"}
        finally:
            await asyncio.to_thread(worker.stop, 1.0)
        # A worker that stops says so at once rather than after three missed heartbeats.
        after = _status(await gql(operation("SystemStatus")))
        assert (after["workersAlive"], after["workers"]) == (0, [])
    finally:
        delete_keys(redis_url, prefix)


def _gid(job_id: uuid.UUID) -> str:
    return base64.b64encode(f"Job:{job_id}".encode()).decode()


async def test_job_cost_is_null_until_a_stage_ran_then_priced(
    gql: GraphQLClient, services: Services, tenant: Tenant, media_root: Path
) -> None:
    (media_root / "c.txt").write_text("gamma")
    job_id = await _ingest(
        dataclasses.replace(services, enqueuer=None), tenant, media_root / "c.txt", queue="batch"
    )
    body = await gql(operation("JobCost"), {"id": _gid(job_id)})
    assert body["data"]["job"]["cost"] is None

    prices = cost.Prices(cpu_second=0.5, gpu_second=2.0, storage_gb=0.25, currency="EUR")
    first = {"cpu_seconds": 1.5, "gpu_seconds": 0.0, "stored_bytes": 2_000_000_000}
    second = {"cpu_seconds": 0.5, "gpu_seconds": 0.25, "stored_bytes": 0}
    async with services.session_factory() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        # What two stage runs' completions write (jobs/runner/outcomes.py add_cost).
        job.cost = cost.merge(
            cost.merge({}, cost.price(first, prices), prices), cost.price(second, prices), prices
        )
        await session.commit()
    body = await gql(operation("JobCost"), {"id": _gid(job_id)})
    assert body["data"]["job"]["cost"] == {
        "cpuSeconds": 2.0,
        "gpuSeconds": 0.25,
        "storedBytes": 2_000_000_000,
        "cpuCost": 1.0,
        "gpuCost": 0.5,
        "storageCost": 0.5,
        "total": 2.0,
        "currency": "EUR",
    }
    stages = [edge["node"] for edge in body["data"]["job"]["stages"]["edges"]]
    # Nothing ran (no broker): every stage that applies is PENDING, without timings.
    assert stages[0] == {
        "name": "probe",
        "status": "PENDING",
        "attempts": 0,
        "startedAt": None,
        "finishedAt": None,
        "durationSeconds": None,
    }

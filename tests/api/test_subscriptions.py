"""Subscriptions end to end: a real server (uvicorn on a free loopback port), a real WebSocket
(graphql-transport-ws), events published through real Redis pub/sub, and multipart HTTP.

The ``*_from_the_job_runner`` tests run real jobs: an in-process job runtime (real probe, test
stages through the stage contract) publishes through its own Redis connection, and the server
relays what Redis delivers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from httpx_ws import AsyncWebSocketSession, aconnect_ws

from app.api.http import create_graphql_app
from app.assets.models import Asset
from app.assets.service import ingest_path
from app.core.container import Services
from app.core.enums import AssetKind, AssetStatus, JobStatus, StageStatus
from app.core.events import Publisher, job_channel
from app.core.pubsub import InProcessPublisher
from app.core.redis_pubsub import RedisPublisher
from app.core.settings import Settings
from app.entrypoints.bootstrap import build_services
from app.entrypoints.job_system import job_runtime
from app.jobs.errors import PermanentStageError
from app.jobs.events import EventType, job_event
from app.jobs.models import Job, JobStage
from app.jobs.pipeline import MEDIA_PIPELINE
from app.tenancy.models import Tenant
from jobs.registry import StageContext, StageOutput, StageRegistry, build_registry
from jobs.runtime import JobRuntime
from tests.api.conftest import operation
from tests.api.graph import gid
from tests.fixtures.keys import auth, issue_key
from tests.jobs.conftest import TEST_MODULES
from tests.jobs.media import make_wav

TIMEOUT_S = 10


class Server:
    """The API app served by uvicorn in this event loop."""

    def __init__(self, services: Services) -> None:
        config = uvicorn.Config(
            create_graphql_app(services),
            host="127.0.0.1",
            port=0,
            lifespan="off",
            ws="wsproto",
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        # uvicorn exposes only a `started` flag, no event to await.
        while not self.server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await self.task


async def _auth_headers(services: Services) -> dict[str, str]:
    """Headers of a client with a new admin key of the default tenant: the WebSocket handshake
    carries them too, which authenticates a connection_init without a payload."""
    key = await issue_key(
        services.session_factory, tenant=services.settings.default_tenant, name="subscriber"
    )
    return auth(key)


async def _job(services: Services, tenant_id: uuid.UUID) -> tuple[Job, list[JobStage]]:
    asset = Asset(
        tenant_id=tenant_id, kind=AssetKind.AUDIO, status=AssetStatus.PROCESSING, title="Talk", blob_key="k",
        content_sha256="ab" * 32, mime_type="audio/wav", size_bytes=10,
    )  # fmt: skip
    job = Job(tenant_id=tenant_id, asset_id=asset.id, pipeline="media", status=JobStatus.QUEUED)
    stages = [
        JobStage(
            job_id=job.id,
            tenant_id=tenant_id,
            name=spec.name,
            ordinal=i,
            status=StageStatus.PENDING if AssetKind.AUDIO in spec.kinds else StageStatus.SKIPPED,
        )
        for i, spec in enumerate(MEDIA_PIPELINE.stages)
    ]
    async with services.session_factory() as session:
        session.add(asset)
        await session.flush()
        session.add(job)
        await session.flush()
        session.add_all(stages)
        await session.commit()
    return job, stages


def _script(job: Job, stages: list[JobStage]) -> list[dict[str, Any]]:
    """Events of a run, as the job system publishes them (app/jobs/events.py)."""
    by_name = {s.name: s for s in stages}
    events = []

    def emit(
        kind: EventType, stage: str | None, status: StageStatus | None = None, progress: float = 0.0
    ) -> None:
        row = by_name[stage] if stage else None
        if row is not None and status is not None:
            row.status = status
            row.progress = progress
            row.attempts = row.attempts or 1
        events.append(job_event(kind, job, row))

    job.status = JobStatus.RUNNING
    job.current_stage = "probe"
    emit(EventType.STAGE_STARTED, "probe", StageStatus.RUNNING)
    emit(EventType.STAGE_COMPLETED, "probe", StageStatus.SUCCEEDED, 1.0)
    job.current_stage = "transcribe"
    job.progress = 0.25
    emit(EventType.STAGE_STARTED, "transcribe", StageStatus.RUNNING)
    job.progress = 0.5
    emit(EventType.PROGRESS, "transcribe", StageStatus.RUNNING, 0.5)
    by_name["transcribe"].error_code = "TRANSIENT_ERROR"
    emit(EventType.STAGE_RETRYING, "transcribe", StageStatus.QUEUED, 0.5)
    by_name["transcribe"].error_code = None
    emit(EventType.STAGE_COMPLETED, "transcribe", StageStatus.SUCCEEDED, 1.0)
    job.status = JobStatus.SUCCEEDED
    job.progress = 1.0
    job.current_stage = None
    emit(EventType.JOB_COMPLETED, None)
    return events


EXPECTED_AFTER_SNAPSHOT = [
    ("STAGE_STARTED", "RUNNING", 0.0, "probe", "RUNNING", 0.0, None),
    ("STAGE_COMPLETED", "RUNNING", 0.0, "probe", "SUCCEEDED", 1.0, None),
    ("STAGE_STARTED", "RUNNING", 0.25, "transcribe", "RUNNING", 0.0, None),
    ("PROGRESS", "RUNNING", 0.5, "transcribe", "RUNNING", 0.5, None),
    ("STAGE_RETRYING", "RUNNING", 0.5, "transcribe", "QUEUED", 0.5, "TRANSIENT_ERROR"),
    ("STAGE_COMPLETED", "RUNNING", 0.5, "transcribe", "SUCCEEDED", 1.0, None),
    ("JOB_COMPLETED", "SUCCEEDED", 1.0, None, None, None, None),
]


def _row(event: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("kind", "jobStatus", "jobProgress", "stage", "stageStatus", "stageProgress", "errorCode")
    return tuple(event[k] for k in keys)


def _connect(url: str, client: httpx.AsyncClient) -> AbstractAsyncContextManager[AsyncWebSocketSession]:
    return aconnect_ws(f"{url}/graphql", client, subprotocols=["graphql-transport-ws"])


async def _subscribe(ws: AsyncWebSocketSession, document: str, variables: dict[str, Any]) -> None:
    await ws.send_json({"type": "connection_init"})
    assert await asyncio.wait_for(ws.receive_json(), TIMEOUT_S) == {"type": "connection_ack"}
    await ws.send_json(
        {"id": "1", "type": "subscribe", "payload": {"query": document, "variables": variables}}
    )


async def _next(ws: AsyncWebSocketSession) -> dict[str, Any]:
    message: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), TIMEOUT_S)
    return message


async def _subscriber_count(publisher: Publisher, channel: str) -> int:
    if isinstance(publisher, RedisPublisher):
        return await publisher.numsub(channel)
    assert isinstance(publisher, InProcessPublisher)
    return publisher.subscriber_count(channel)


async def _eventually_zero(publisher: Publisher, channel: str) -> None:
    for _ in range(200):
        if await _subscriber_count(publisher, channel) == 0:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{channel} still has subscribers")


@pytest.fixture
async def redis_services(settings: Settings, redis_url: str) -> AsyncIterator[Services]:
    """Services whose publisher is Redis pub/sub (what production runs)."""
    svc = build_services(settings.model_copy(update={"pubsub_url": redis_url}))
    assert isinstance(svc.publisher, RedisPublisher)
    try:
        yield svc
    finally:
        await svc.aclose()


@pytest.mark.redis
async def test_job_progress_over_websocket_through_redis(redis_services: Services, tenant: Tenant) -> None:
    services = redis_services
    job, stages = await _job(services, tenant.id)
    publisher = services.publisher
    async with Server(services) as url, httpx.AsyncClient(headers=await _auth_headers(services)) as client:
        async with _connect(url, client) as ws:
            await _subscribe(ws, operation("JobProgress"), {"jobId": gid("Job", job.id)})
            snapshot = await _next(ws)
            assert snapshot == {
                "id": "1",
                "type": "next",
                "payload": {
                    "data": {
                        "jobProgress": {
                            "kind": "SNAPSHOT",
                            "jobStatus": "QUEUED",
                            "jobProgress": 0.0,
                            "stage": None,
                            "stageStatus": None,
                            "stageProgress": None,
                            "errorCode": None,
                        }
                    }
                },
            }
            assert await _subscriber_count(publisher, job_channel(job.id)) == 1
            for event in _script(job, stages):
                await publisher.publish(job_channel(job.id), event)
            received = [await _next(ws) for _ in EXPECTED_AFTER_SNAPSHOT]
            assert [_row(m["payload"]["data"]["jobProgress"]) for m in received] == EXPECTED_AFTER_SNAPSHOT
            # The final state ends the stream.
            assert await _next(ws) == {"id": "1", "type": "complete"}
            await _eventually_zero(publisher, job_channel(job.id))


@pytest.mark.redis
async def test_a_late_subscriber_gets_the_stored_state_first(
    redis_services: Services, tenant: Tenant
) -> None:
    services = redis_services
    job, _ = await _job(services, tenant.id)
    async with services.session_factory() as session:
        row = await session.get(Job, job.id)
        assert row is not None
        row.status, row.progress, row.current_stage = JobStatus.RUNNING, 0.6, "embed"
        await session.commit()
    document = (
        "subscription($id: ID!) { jobProgress(jobId: $id) { kind jobProgress currentStage job { status } } }"
    )
    async with Server(services) as url, httpx.AsyncClient(headers=await _auth_headers(services)) as client:
        async with _connect(url, client) as ws:
            await _subscribe(ws, document, {"id": gid("Job", job.id)})
            first = await _next(ws)
            assert first["payload"]["data"]["jobProgress"] == {
                "kind": "SNAPSHOT",
                "jobProgress": 0.6,
                "currentStage": "embed",
                "job": {"status": "RUNNING"},
            }


@pytest.mark.redis
async def test_a_disconnecting_subscriber_leaks_nothing(redis_services: Services, tenant: Tenant) -> None:
    services = redis_services
    job, _ = await _job(services, tenant.id)
    channel = job_channel(job.id)
    async with Server(services) as url, httpx.AsyncClient(headers=await _auth_headers(services)) as client:
        for _ in range(3):
            async with _connect(url, client) as ws:
                await _subscribe(ws, operation("JobProgress"), {"jobId": gid("Job", job.id)})
                assert (await _next(ws))["payload"]["data"]["jobProgress"]["kind"] == "SNAPSHOT"
                assert await _subscriber_count(services.publisher, channel) == 1
            # The client went away mid-stream: its Redis subscription must go too.
            await _eventually_zero(services.publisher, channel)


async def test_subscription_errors_for_bad_and_unknown_ids(services: Services, tenant: Tenant) -> None:
    async with Server(services) as url, httpx.AsyncClient(headers=await _auth_headers(services)) as client:
        async with _connect(url, client) as ws:
            await _subscribe(ws, operation("JobProgress"), {"jobId": gid("Asset", uuid.UUID(int=3))})
            error = await _next(ws)
            assert error["type"] == "next"
            assert [e["extensions"]["code"] for e in error["payload"]["errors"]] == ["WRONG_ID_TYPE"]
            assert await _next(ws) == {"id": "1", "type": "complete"}
    assert isinstance(services.publisher, InProcessPublisher)
    assert services.publisher.subscriber_count() == 0


def _multipart_payloads(raw: str) -> list[dict[str, Any]]:
    payloads = []
    for part in raw.split("--graphql"):
        _, _, body = part.partition("\r\n\r\n")
        body = body.strip()
        if body.startswith("{"):
            decoded = json.loads(body)
            if "payload" in decoded:  # heartbeats are empty objects
                payloads.append(decoded["payload"])
    return payloads


async def test_asset_events_over_multipart_http(services: Services, tenant: Tenant) -> None:
    job, _ = await _job(services, tenant.id)
    asset_id = gid("Asset", job.asset_id)
    publisher = services.publisher
    assert isinstance(publisher, InProcessPublisher)
    headers = {"accept": 'multipart/mixed;subscriptionSpec="1.0"', "content-type": "application/json"}
    body = {"query": operation("AssetEvents"), "variables": {"assetId": asset_id}}
    mutation = "mutation($i: UpdateAssetInput!) { updateAsset(input: $i) { __typename } }"
    async with (
        Server(services) as url,
        httpx.AsyncClient(headers=await _auth_headers(services), timeout=TIMEOUT_S) as client,
    ):
        async with client.stream("POST", f"{url}/graphql", json=body, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("multipart/mixed")
            chunks = response.aiter_text()
            raw = ""
            while not _multipart_payloads(raw):
                raw += await asyncio.wait_for(anext(chunks), TIMEOUT_S)
            # Subscribed: change the asset through the API, then delete it.
            update = await client.post(
                f"{url}/graphql",
                json={"query": mutation, "variables": {"i": {"id": asset_id, "tags": ["x"]}}},
            )
            assert update.json() == {"data": {"updateAsset": {"__typename": "UpdateAssetSuccess"}}}
            # The UPDATED event's asset is resolved when the event is sent: deleting before it
            # arrived would race it (on a loaded machine the event showed the deleted asset).
            while len(_multipart_payloads(raw)) < 2:
                raw += await asyncio.wait_for(anext(chunks), TIMEOUT_S)
            delete = await client.post(
                f"{url}/graphql", json={"query": operation("DeleteAsset"), "variables": {"id": asset_id}}
            )
            assert delete.json()["data"]["deleteAsset"]["__typename"] == "DeleteAssetSuccess"
            async for chunk in chunks:
                raw += chunk
    assert [p["data"]["assetEvents"] for p in _multipart_payloads(raw)] == [
        {"kind": "SNAPSHOT", "changedFields": [], "asset": {"title": "Talk", "tags": []}},
        {"kind": "UPDATED", "changedFields": ["tags"], "asset": {"title": "Talk", "tags": ["x"]}},
        {"kind": "DELETED", "changedFields": [], "asset": None},
    ]
    assert all(set(p) == {"data"} for p in _multipart_payloads(raw))
    assert raw.rstrip().endswith("--graphql--")
    assert publisher.subscriber_count() == 0


# --- real jobs through the job runner ------------------------------------------------------------


@pytest.fixture
async def runner_services(settings: Settings, redis_url: str) -> AsyncIterator[Services]:
    """The server's services on Redis pub/sub, with settings for quick retries and sweeps.

    One worker thread: stages of a job then run strictly one after another, so the order of
    events is the order of the pipeline (two threads may start the next stage before the
    previous completion is published)."""
    run_settings = settings.model_copy(
        update={
            "pubsub_url": redis_url,
            "stage_lease_seconds": 1.5,
            "sweeper_interval_seconds": 0.2,
            "retry_min_backoff_ms": 50,
            "retry_max_backoff_ms": 100,
            "max_retries": 3,
            "worker_threads": 1,
        }
    )
    svc = build_services(run_settings)
    assert isinstance(svc.publisher, RedisPublisher)
    try:
        yield svc
    finally:
        await svc.aclose()


@pytest.fixture
async def start_runner(runner_services: Services) -> AsyncIterator[Callable[[StageRegistry], JobRuntime]]:
    """Start an in-process job runtime (memory:// broker, its own Redis publisher)."""
    started: list[JobRuntime] = []

    def start(registry: StageRegistry) -> JobRuntime:
        runtime = job_runtime(runner_services.settings, registry=registry, host_services=runner_services)
        runtime.start()
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        await asyncio.to_thread(runtime.stop, 1.0)


async def _ingest_talk(services: Services, tenant: Tenant, media_root: Path, test: dict[str, Any]) -> Job:
    """A one-second WAV ingested without a broker: its stages wait until a runtime's sweeper
    sends them, so a subscription made before the runtime starts sees every event."""
    path = make_wav(media_root / "talk.wav", channels=1)
    async with services.session_factory() as session:
        result = await ingest_path(
            session, services=services, tenant_id=tenant.id, path=path, actor="test", metadata={"test": test}
        )
        await session.commit()
    assert result.job is not None
    assert result.asset.kind == AssetKind.AUDIO
    return result.job


async def _events_until_complete(ws: AsyncWebSocketSession) -> list[tuple[Any, ...]]:
    rows = []
    while (message := await _next(ws)) != {"id": "1", "type": "complete"}:
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        rows.append(_row(message["payload"]["data"]["jobProgress"]))
    return rows


# Overall progress of an audio job: probe 1, scenes 3, transcribe 8, embed 3, similarity 1 and
# index 1 (app/jobs/pipeline.py), rounded to 4 places.
AFTER_PROBE = round(1 / 17, 4)
PROBE_EVENTS = [
    ("STAGE_STARTED", "RUNNING", 0.0, "probe", "RUNNING", 0.0, None),
    ("PROGRESS", "RUNNING", 0.0, "probe", "RUNNING", 0.0, None),
    ("PROGRESS", "RUNNING", AFTER_PROBE, "probe", "RUNNING", 1.0, None),
    ("STAGE_COMPLETED", "RUNNING", AFTER_PROBE, "probe", "SUCCEEDED", 1.0, None),
]


def _stage_events(events: list[tuple[Any, ...]], stage: str) -> list[tuple[Any, ...]]:
    """(kind, stage status, stage progress, error code) of ``stage``'s events, in order."""
    return [(e[0], e[4], e[5], e[6]) for e in events if e[3] == stage]


@pytest.mark.redis
async def test_a_failing_job_from_the_job_runner_streams_to_job_failed(
    runner_services: Services,
    start_runner: Callable[[StageRegistry], JobRuntime],
    tenant: Tenant,
    media_root: Path,
) -> None:
    async def broken_transcriber(ctx: StageContext) -> StageOutput:
        await ctx.report_progress(0.5)
        raise PermanentStageError("TEST_BROKEN", "the transcriber cannot read this file")

    registry = build_registry(TEST_MODULES)  # the real probe, test stages for the others
    registry.register("transcribe", broken_transcriber, replace=True)
    # scenes fails once (transient, retried), then succeeds.
    job = await _ingest_talk(
        runner_services, tenant, media_root, {"stages": {"scenes": {"transient_failures": 1}}}
    )
    async with (
        Server(runner_services) as url,
        httpx.AsyncClient(headers=await _auth_headers(runner_services)) as client,
    ):
        async with _connect(url, client) as ws:
            await _subscribe(ws, operation("JobProgress"), {"jobId": gid("Job", job.id)})
            snapshot = await _next(ws)
            assert _row(snapshot["payload"]["data"]["jobProgress"]) == (
                "SNAPSHOT", "QUEUED", 0.0, None, None, None, None,
            )  # fmt: skip
            start_runner(registry)
            events = await asyncio.wait_for(_events_until_complete(ws), 30)
    assert events[:4] == PROBE_EVENTS
    # scenes and transcribe both follow probe and run side by side: each stage's own events
    # come in order, interleaved with the other's.
    assert _stage_events(events[4:], "transcribe") == [
        ("STAGE_STARTED", "RUNNING", 0.0, None),
        ("PROGRESS", "RUNNING", 0.5, None),
        ("STAGE_FAILED", "FAILED", 0.5, "TEST_BROKEN"),
    ]
    scenes = _stage_events(events[4:], "scenes")
    assert (
        scenes
        == [
            ("STAGE_STARTED", "RUNNING", 0.0, None),
            ("STAGE_RETRYING", "QUEUED", 0.0, "TEST_FLAKY"),
            ("STAGE_STARTED", "RUNNING", 0.0, "TEST_FLAKY"),
            ("PROGRESS", "RUNNING", 1.0, "TEST_FLAKY"),
            ("STAGE_COMPLETED", "SUCCEEDED", 1.0, None),
        ][: len(scenes)]
    )
    assert {e[1] for e in events[:-1]} == {"RUNNING"}
    failed = events[-1]
    assert (failed[0], failed[1], failed[3:]) == ("JOB_FAILED", "FAILED", (None, None, None, "TEST_BROKEN"))
    await _eventually_zero(runner_services.publisher, job_channel(job.id))


@pytest.mark.redis
async def test_a_cancelled_job_from_the_job_runner_streams_to_job_cancelled(
    runner_services: Services,
    start_runner: Callable[[StageRegistry], JobRuntime],
    tenant: Tenant,
    media_root: Path,
) -> None:
    async def long_scenes(ctx: StageContext) -> StageOutput:
        await ctx.report_progress(0.25)
        await asyncio.sleep(30)  # until the lease heartbeat sees the cancellation
        return StageOutput()

    registry = build_registry(TEST_MODULES)
    registry.register("scenes", long_scenes, replace=True)
    job = await _ingest_talk(runner_services, tenant, media_root, {})
    job_id = gid("Job", job.id)
    async with (
        Server(runner_services) as url,
        httpx.AsyncClient(headers=await _auth_headers(runner_services)) as client,
    ):
        async with _connect(url, client) as ws:
            await _subscribe(ws, operation("JobProgress"), {"jobId": job_id})
            assert (await _next(ws))["payload"]["data"]["jobProgress"]["kind"] == "SNAPSHOT"
            start_runner(registry)
            before: list[tuple[Any, ...]] = []
            while not before or (before[-1][0], before[-1][3]) != ("PROGRESS", "scenes"):
                before.append(_row((await _next(ws))["payload"]["data"]["jobProgress"]))
            # scenes is running: cancel through the API, as a user would.
            cancel = await client.post(
                f"{url}/graphql", json={"query": operation("CancelJob"), "variables": {"id": job_id}}
            )
            assert cancel.json() == {
                "data": {
                    "cancelJob": {
                        "__typename": "CancelJobSuccess",
                        "job": {"id": job_id, "status": "RUNNING"},
                    }
                }
            }
            after = await asyncio.wait_for(_events_until_complete(ws), 10)
    assert before[:4] == PROBE_EVENTS
    assert _stage_events(before[4:], "scenes") == [
        ("STAGE_STARTED", "RUNNING", 0.0, None),
        ("PROGRESS", "RUNNING", 0.25, None),
    ]
    # transcribe (a quick test stage) runs beside scenes: it may finish before the cancel.
    done = ("STAGE_COMPLETED", "transcribe") in [(e[0], e[3]) for e in before + after]
    # The running stage and every one not started are cancelled; the job ends CANCELLED.
    stopped = after[-1][2]
    assert stopped >= round((1 + 3 * 0.25) / 17, 4)  # probe done, a quarter of scenes
    assert after[-1] == ("JOB_CANCELLED", "CANCELLED", stopped, None, None, None, None)
    cancelled = [e for e in after if e[0] == "STAGE_CANCELLED"]
    assert sorted(e[3] for e in cancelled) == sorted(
        ["scenes", "embed", "similarity", "index"] + ([] if done else ["transcribe"])
    )
    assert ("STAGE_CANCELLED", "CANCELLED", stopped, "scenes", "CANCELLED", 0.25, None) in cancelled
    assert {e[1:3] for e in cancelled} == {("CANCELLED", stopped)}
    await _eventually_zero(runner_services.publisher, job_channel(job.id))

"""Reads never wait for SQLite's write lock; a write that cannot get it in time is a typed,
retryable error (DATABASE_BUSY), and nothing is written."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from app.api.http import create_graphql_app
from app.assets.models import Asset
from app.core.container import Services
from app.core.db import session_scope
from app.core.enums import AssetKind, AssetStatus
from app.core.errors import DatabaseBusyError
from app.core.settings import Settings
from app.entrypoints.bootstrap import build_services
from app.people.models import Person
from app.tenancy.models import Tenant
from jobs.sweeper import sweep_once
from tests.api.conftest import BASE_URL, GraphQLClient, operation
from tests.api.graph import gid
from tests.api.test_subscriptions import Server, _auth_headers, _connect, _job, _next, _subscribe
from tests.fixtures.keys import admin_headers

ASSET_QUERY = "query ($id: ID!) { asset(id: $id) { id title } assets(first: 5) { edges { node { id } } } }"


@pytest.fixture(autouse=True)
def _sqlite_only(settings: Settings) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the write lock is SQLite's (PostgreSQL readers never wait for writers)")


@contextmanager
def write_lock_held(settings: Settings) -> Iterator[sqlite3.Connection]:
    """Another process's long write: the write lock taken and held until the block ends."""
    path = settings.database_url.split("///", 1)[1]
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE tenant SET name = name || '!'")
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def _asset(services: Services, tenant: Tenant) -> Asset:
    async with session_scope(services.session_factory) as session:
        asset = Asset(
            tenant_id=tenant.id,
            blob_key="sha256/aa/x",
            content_sha256="a" * 64,
            mime_type="video/mp4",
            size_bytes=10,
            kind=AssetKind.VIDEO,
            status=AssetStatus.READY,
            title="Before",
        )
        session.add(asset)
    return asset


@pytest.fixture
async def quick_services(settings: Settings) -> AsyncIterator[Services]:
    """Services whose writes give up on the lock after 0.3 s."""
    svc = build_services(settings.model_copy(update={"database_write_timeout_seconds": 0.3}))
    try:
        yield svc
    finally:
        await svc.aclose()


@pytest.fixture
async def quick_gql(quick_services: Services) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=create_graphql_app(quick_services))
    headers = await admin_headers(quick_services)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as client:
        yield GraphQLClient(client)


async def test_concurrent_readers_succeed_while_a_write_holds_the_lock(
    quick_gql: GraphQLClient, quick_services: Services, settings: Settings, tenant: Tenant
) -> None:
    asset = await _asset(quick_services, tenant)
    await quick_gql(ASSET_QUERY, {"id": gid("Asset", asset.id)})  # the key is verified (a write)
    with write_lock_held(settings):
        # Each read would wait 0.3 s and fail if it asked for the lock; held for all of them.
        bodies = await asyncio.gather(
            *(quick_gql(ASSET_QUERY, {"id": gid("Asset", asset.id)}) for _ in range(30))
        )
    assert all("errors" not in b for b in bodies), [b.get("errors") for b in bodies if "errors" in b][:1]
    assert {b["data"]["asset"]["title"] for b in bodies} == {"Before"}


PEOPLE_QUERY = """query ($id: ID!) {
  people(first: 5) {
    edges { node { name faceCount coverUrl appearances { id } coAppearing { assetCount } } }
  }
  node(id: $id) { id }
}"""


async def test_people_reads_succeed_while_a_write_holds_the_lock(
    quick_gql: GraphQLClient, quick_services: Services, settings: Settings, tenant: Tenant
) -> None:
    async with session_scope(quick_services.session_factory) as session:
        person = Person(tenant_id=tenant.id, name="Ada")
        session.add(person)
    variables = {"id": gid("Person", person.id)}
    await quick_gql(PEOPLE_QUERY, variables)  # the key is verified (a write)
    with write_lock_held(settings):
        # Each read would wait 0.3 s and fail if it asked for the lock.
        body = await quick_gql(PEOPLE_QUERY, variables)
    assert "errors" not in body, body
    assert [e["node"]["name"] for e in body["data"]["people"]["edges"]] == ["Ada"]
    assert body["data"]["node"] == variables


async def test_subscription_reads_succeed_while_a_write_holds_the_lock(
    quick_services: Services, settings: Settings, tenant: Tenant
) -> None:
    """A WebSocket's connection_init gives its context new loaders: they read through the read
    sessions like an HTTP request's, not through units of work that wait for the lock."""
    job, _ = await _job(quick_services, tenant.id)
    headers = await _auth_headers(quick_services)
    async with Server(quick_services) as url, httpx.AsyncClient(headers=headers) as client:
        async with _connect(url, client) as ws:
            with write_lock_held(settings):
                await _subscribe(ws, operation("JobProgress"), {"jobId": gid("Job", job.id)})
                first = await _next(ws)
    assert "errors" not in first["payload"], first
    assert first["payload"]["data"]["jobProgress"]["kind"] == "SNAPSHOT"


async def test_a_key_checked_while_a_write_holds_the_lock_still_gets_in(
    quick_gql: GraphQLClient, quick_services: Services, settings: Settings, tenant: Tenant
) -> None:
    """Checking a key reads; recording its last use is a write the busy database refuses, and
    that must not turn the request away (it was an HTTP 500 before)."""
    asset = await _asset(quick_services, tenant)
    with write_lock_held(settings):
        # The key's first use: nothing cached, its use cannot be recorded now.
        body = await quick_gql(ASSET_QUERY, {"id": gid("Asset", asset.id)})
    assert "errors" not in body, body
    assert body["data"]["asset"]["title"] == "Before"


async def test_a_write_that_cannot_get_the_lock_is_a_typed_retryable_error(
    quick_gql: GraphQLClient, quick_services: Services, settings: Settings, tenant: Tenant
) -> None:
    asset = await _asset(quick_services, tenant)
    variables = {"input": {"id": gid("Asset", asset.id), "title": "After"}}
    await quick_gql(ASSET_QUERY, {"id": gid("Asset", asset.id)})
    with write_lock_held(settings):
        body = await quick_gql(operation("UpdateAsset"), variables)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "DATABASE_BUSY", error
    assert error["extensions"]["retryAfterSeconds"] >= 1
    assert "busy" in error["message"]
    async with quick_services.read_session_factory() as session:
        assert await session.scalar(select(Asset.title).where(Asset.id == asset.id)) == "Before"
    # Once the lock is free the same request succeeds.
    body = await quick_gql(operation("UpdateAsset"), variables)
    assert body["data"]["updateAsset"]["asset"]["title"] == "After"


async def test_unit_of_work_raises_database_busy_and_read_sessions_refuse_writes(
    quick_services: Services, settings: Settings, tenant: Tenant
) -> None:
    with write_lock_held(settings):
        with pytest.raises(DatabaseBusyError) as caught:
            async with session_scope(quick_services.session_factory) as session:
                session.add(Tenant(slug=f"t-{uuid.uuid4().hex[:8]}", name="x"))
        assert caught.value.retry_after_s > 0
        async with quick_services.read_session_factory() as session:
            assert await session.scalar(select(func.count()).select_from(Tenant)) == 1
    # A read session is query-only: a write through it fails at once, it never takes the lock.
    async with quick_services.read_session_factory() as session:
        session.add(Tenant(slug="never", name="never"))
        with pytest.raises(OperationalError, match="readonly"):
            await session.commit()


class _Sent:
    """Records messages instead of sending them (no job needs one here)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(
        self,
        actor_name: str,
        *,
        queue: str,
        args: dict[str, Any],
        delay_ms: int = 0,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.sent.append(actor_name)


async def test_the_sweeper_keeps_working_under_read_load(
    quick_gql: GraphQLClient, quick_services: Services, tenant: Tenant
) -> None:
    asset = await _asset(quick_services, tenant)
    variables = {"id": gid("Asset", asset.id)}
    await quick_gql(ASSET_QUERY, variables)
    stop = asyncio.Event()

    async def reader() -> int:
        answered = 0
        while not stop.is_set():
            body = await quick_gql(ASSET_QUERY, variables)
            assert "errors" not in body, body
            answered += 1
        return answered

    readers = [asyncio.create_task(reader()) for _ in range(20)]
    try:
        # Each pass is a unit of work that needs the write lock within 0.3 s.
        for _ in range(5):
            report = await sweep_once(quick_services, _Sent())
            assert report.examined == 0
    finally:
        stop.set()
        answered = await asyncio.gather(*readers)
    assert sum(answered) >= 20

"""Subscription fan-out scales with events, not subscribers: each subscriber sees the state
its own event describes, per-event reads do not grow with the number of subscribers, and idle
subscriptions re-sync with one batched statement per window (a real uvicorn server and
WebSockets, in-process pub/sub)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession
from sqlalchemy import event

from app.api import streams
from app.api.assets import subscriptions as asset_subscriptions
from app.assets.models import Asset
from app.core.container import Services
from app.core.db import session_scope
from app.core.enums import AssetKind, AssetStatus
from app.core.events import asset_channel
from app.tenancy.models import Tenant
from tests.api.graph import gid
from tests.api.test_subscriptions import TIMEOUT_S, Server, _connect, _next, _subscribe
from tests.fixtures.keys import admin_headers

DOCUMENT = "subscription ($id: ID!) { assetEvents(assetId: $id) { kind changedFields asset { title } } }"
UPDATE = "mutation ($i: UpdateAssetInput!) { updateAsset(input: $i) { __typename } }"


@contextmanager
def read_statements(services: Services) -> Iterator[list[str]]:
    """Statements sent through the read engine (what subscribers read) while in the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}:
            seen.append(statement)

    engine = (services.read_engine or services.engine).sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _asset(services: Services, tenant: Tenant) -> Asset:
    async with session_scope(services.session_factory) as session:
        asset = Asset(
            tenant_id=tenant.id, kind=AssetKind.VIDEO, status=AssetStatus.READY, title="t-start",
            blob_key="k", content_sha256=uuid.uuid4().hex * 2, mime_type="video/mp4", size_bytes=10,
        )  # fmt: skip
        session.add(asset)
    return asset


async def _update(client: httpx.AsyncClient, url: str, asset_id: str, title: str) -> httpx.Response:
    variables = {"i": {"id": asset_id, "title": title}}
    return await client.post(f"{url}/graphql", json={"query": UPDATE, "variables": variables})


@asynccontextmanager
async def served(services: Services) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """The app on a real server, and a client with a new admin key of the default tenant."""
    headers = await admin_headers(services, name=f"fanout-{uuid.uuid4().hex[:8]}")
    async with Server(services) as url, httpx.AsyncClient(headers=headers, timeout=TIMEOUT_S) as client:
        yield url, client


class Subscribers:
    """``n`` WebSocket subscribers of one asset's events."""

    def __init__(self, url: str, client: httpx.AsyncClient, asset_id: str, n: int) -> None:
        self.url, self.client, self.asset_id, self.n = url, client, asset_id, n
        self.sockets: list[AsyncWebSocketSession] = []
        self.stack = AsyncExitStack()

    async def __aenter__(self) -> Subscribers:
        for _ in range(self.n):
            ws = await self.stack.enter_async_context(_connect(self.url, self.client))
            await _subscribe(ws, DOCUMENT, {"id": self.asset_id})
            first = await _next(ws)
            assert first["payload"]["data"]["assetEvents"]["kind"] == "SNAPSHOT", first
            self.sockets.append(ws)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stack.aclose()

    async def events(self, count: int) -> list[list[dict[str, Any]]]:
        """The next ``count`` events of every subscriber."""

        async def take(ws: AsyncWebSocketSession) -> list[dict[str, Any]]:
            got = []
            for _ in range(count):
                message = await _next(ws)
                assert message["type"] == "next", message
                assert "errors" not in message["payload"], message
                got.append(message["payload"]["data"]["assetEvents"])
            return got

        return list(await asyncio.gather(*(take(ws) for ws in self.sockets)))


async def _run(services: Services, tenant: Tenant, subscribers: int, updates: int) -> tuple[list[Any], int]:
    """Every subscriber's events for ``updates`` rapid title changes and one job event, and the
    read statements sent meanwhile."""
    asset = await _asset(services, tenant)
    asset_id = gid("Asset", asset.id)
    async with served(services) as (url, client):
        await client.post(f"{url}/graphql", json={"query": "{ __typename }"})  # the key is verified
        async with Subscribers(url, client, asset_id, subscribers) as subs:
            with read_statements(services) as seen:
                # Rapid: all sent at once, so later titles are committed before earlier events
                # are delivered (a subscriber reading "now" would show a later title).
                answers = await asyncio.gather(
                    *(_update(client, url, asset_id, f"t{k}") for k in range(updates))
                )
                assert all(
                    a.json()["data"]["updateAsset"]["__typename"] == "UpdateAssetSuccess" for a in answers
                )
                job_end = {"type": "job_completed", "asset_id": str(asset.id), "job_id": str(uuid.uuid4())}
                await services.publisher.publish(asset_channel(asset.id), job_end)
                events = await subs.events(updates + 1)
                during_updates = len(seen)
    return events, during_updates


async def test_each_event_shows_its_own_state_and_reads_do_not_grow_with_subscribers(
    services: Services, tenant: Tenant
) -> None:
    updates = 6
    few_events, few_reads = await _run(services, tenant, subscribers=1, updates=updates)
    many_events, many_reads = await _run(services, tenant, subscribers=8, updates=updates)
    for events in [*few_events, *many_events]:
        updated = [e for e in events if e["kind"] == "UPDATED"]
        assert len(updated) == updates
        # The mutations ran concurrently, so their commit order is not their send order; but
        # every event must show a title its own change set, each title exactly once.
        assert sorted(e["asset"]["title"] for e in updated) == sorted(f"t{k}" for k in range(updates))
        assert all(e["changedFields"] == ["title"] for e in updated)
        (job_event,) = [e for e in events if e["kind"] == "JOB_COMPLETED"]
        assert job_event["asset"]["title"] in {f"t{k}" for k in range(updates)}
    # Same statements with 8 subscribers as with 1: the mutations' own reads, and one shared
    # read for the job event (which carries no asset state).
    assert many_reads == few_reads, (few_reads, many_reads)


async def test_update_events_carry_their_own_title_in_commit_order(
    services: Services, tenant: Tenant
) -> None:
    asset = await _asset(services, tenant)
    asset_id = gid("Asset", asset.id)
    async with served(services) as (url, client):
        async with Subscribers(url, client, asset_id, 3) as subs:
            for k in range(5):  # one after another: commit order is send order
                await client.post(
                    f"{url}/graphql",
                    json={"query": UPDATE, "variables": {"i": {"id": asset_id, "title": f"t{k}"}}},
                )
            # Events are delivered after all five committed: "as stored now" would show t4 five times.
            events = await subs.events(5)
    assert [[e["asset"]["title"] for e in got] for got in events] == [[f"t{k}" for k in range(5)]] * 3


async def test_idle_subscriptions_resync_with_one_batched_statement_per_window(
    services: Services, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "RESYNC_AFTER_S", 0.3)
    monkeypatch.setattr(asset_subscriptions, "RESYNC_WINDOW_S", 1.0)
    asset = await _asset(services, tenant)
    subscribers = 20
    async with served(services) as (url, client):
        await client.post(f"{url}/graphql", json={"query": "{ __typename }"})
        async with Subscribers(url, client, gid("Asset", asset.id), subscribers):
            coalescer = streams.shared_coalescer(services, "asset-resync", None, window_s=1.0)  # type: ignore[arg-type]
            with read_statements(services) as seen:
                for _ in range(600):
                    if coalescer.fetches >= 2:
                        break
                    await asyncio.sleep(0.05)
                fetches, loads, statements = coalescer.fetches, coalescer.loads, len(seen)
    assert fetches >= 2, "idle subscriptions never re-synced"
    # Each window's re-syncs are one statement, shared by the subscribers that fell in it.
    # A window may straddle the block's edges.
    assert fetches - 1 <= statements <= fetches + 1, (statements, fetches)
    assert loads >= subscribers
    assert fetches * 3 <= loads, (fetches, loads)

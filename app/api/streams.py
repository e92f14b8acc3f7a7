"""Following a publisher channel from a subscription resolver, and reads shared by every
subscription of a process (one statement per event or per re-sync window, not per subscriber)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.container import Services

# Pub/sub delivers at most once: a subscriber that hears nothing for about this long re-reads
# the database, so a lost final event cannot leave it waiting forever. Each subscription's
# silence is jittered by this fraction, so idle subscriptions do not all wake at once.
RESYNC_AFTER_S = 15.0
RESYNC_JITTER = 0.2
# Re-syncs falling within this window share one statement.
RESYNC_WINDOW_S = 1.0
# Deliveries of one event to every subscriber happen within a few loop turns: loads within this
# window share one statement.
EVENT_WINDOW_S = 0.05

K = TypeVar("K")
V = TypeVar("V")
Key = tuple[uuid.UUID, uuid.UUID]  # (tenant id, row id)


async def _next(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await anext(events)


def jittered(seconds: float) -> float:
    """``seconds`` give or take ``RESYNC_JITTER`` of it."""
    return seconds * random.uniform(1 - RESYNC_JITTER, 1 + RESYNC_JITTER)


async def events_or_silence(
    events: AsyncIterator[dict[str, Any]], *, silence_s: float | None = None
) -> AsyncIterator[dict[str, Any] | None]:
    """The events of ``events``, and None after each ``silence_s`` (default: a jittered
    ``RESYNC_AFTER_S``) without one.

    The pending read survives a silence (it is not cancelled: cancelling an async generator's
    ``__anext__`` would close it), and is cancelled when the caller stops iterating.
    """
    silence = silence_s if silence_s is not None else jittered(RESYNC_AFTER_S)
    pending: asyncio.Task[dict[str, Any]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(_next(events))
            done, _ = await asyncio.wait({pending}, timeout=silence)
            if not done:
                yield None
                continue
            task, pending = pending, None
            yield task.result()
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)


class Coalescer(Generic[K, V]):
    """Loads asked for within ``window_s`` of each other run as one ``fetch`` of all their
    keys; every caller of a key gets the same result (None: not found). Nothing is cached
    beyond the window: the next window reads again."""

    def __init__(self, fetch: Callable[[list[K]], Awaitable[dict[K, V]]], *, window_s: float) -> None:
        self._fetch = fetch
        self._window_s = window_s
        self._pending: dict[K, list[asyncio.Future[V | None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.loads = 0  # counters, for tests and benchmarks
        self.fetches = 0

    async def load(self, key: K) -> V | None:
        """The row of ``key`` as read in the window this call falls in."""
        self.loads += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        if not self._pending:
            loop.call_later(self._window_s, self._start_flush)
        self._pending.setdefault(key, []).append(future)
        return await future

    def _start_flush(self) -> None:
        batch, self._pending = self._pending, {}
        task = asyncio.ensure_future(self._flush(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, batch: dict[K, list[asyncio.Future[V | None]]]) -> None:
        self.fetches += 1
        try:
            found = await self._fetch(list(batch))
        except Exception as exc:  # every waiter sees the failure, none hangs
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for key, futures in batch.items():
            for future in futures:
                if not future.done():
                    future.set_result(found.get(key))


RowsById = Callable[..., Awaitable[dict[uuid.UUID, Any]]]


def by_tenant_fetch(
    services: Services, rows_by_id: RowsById
) -> Callable[[list[Key]], Awaitable[dict[Key, Any]]]:
    """A ``Coalescer`` fetch of (tenant, id) keys: one read session, one statement per tenant
    (``rows_by_id(session, tenant_id=, ids=)``, a repository function)."""

    async def fetch(keys: list[Key]) -> dict[Key, Any]:
        by_tenant: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for tenant_id, row_id in keys:
            by_tenant[tenant_id].append(row_id)
        found: dict[Key, Any] = {}
        session: AsyncSession
        async with services.read_session_factory() as session:
            for tenant_id, ids in by_tenant.items():
                rows = await rows_by_id(session, tenant_id=tenant_id, ids=ids)
                found.update(((tenant_id, row_id), row) for row_id, row in rows.items())
        return found

    return fetch


def shared_coalescer(
    services: Services, name: str, rows_by_id: RowsById, *, window_s: float
) -> Coalescer[Key, Any]:
    """The process's coalescer ``name`` on this event loop (created on first use)."""
    slot = f"coalescer:{name}:{id(asyncio.get_running_loop())}"
    coalescer: Coalescer[Key, Any] | None = services.extras.get(slot)
    if coalescer is None:
        coalescer = Coalescer(by_tenant_fetch(services, rows_by_id), window_s=window_s)
        services.extras[slot] = coalescer
    return coalescer

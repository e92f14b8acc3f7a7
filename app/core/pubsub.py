"""Publisher implementations: in-process (embedded default) and Redis pub/sub."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app.core.events import Publisher

# A slow subscriber must not make publishers wait or memory grow without bound: its queue
# holds this many events, beyond which the oldest is dropped (a late reader re-reads state).
SUBSCRIBER_QUEUE_SIZE = 1000


class InProcessPublisher:
    """Fan-out inside one process, across event loops and threads (worker threads publish)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]]]
        self._subscribers = defaultdict(set)

    def subscriber_count(self, channel: str | None = None) -> int:
        """How many subscriptions are open (on ``channel``, or in all)."""
        if channel is not None:
            return len(self._subscribers.get(channel, ()))
        return sum(len(subs) for subs in self._subscribers.values())

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        for loop, queue in list(self._subscribers.get(channel, ())):
            if loop.is_closed():
                continue
            loop.call_soon_threadsafe(_offer, queue, event)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        entry = (asyncio.get_running_loop(), queue)
        self._subscribers[channel].add(entry)
        try:
            yield _drain(queue)
        finally:
            subs = self._subscribers.get(channel)
            if subs is not None:
                subs.discard(entry)
                if not subs:
                    del self._subscribers[channel]

    async def close(self) -> None:
        self._subscribers.clear()


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)


async def _drain(queue: asyncio.Queue[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    while True:
        yield await queue.get()


def create_publisher(url: str, *, prefix: str) -> Publisher:
    """The publisher named by ``url``: memory:// or redis://."""
    if url.startswith("memory"):
        return InProcessPublisher()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from app.core.redis_pubsub import RedisPublisher

        return RedisPublisher(url, prefix=prefix)
    raise ValueError(f"unsupported pub/sub URL {url!r}: use memory:// or redis://")

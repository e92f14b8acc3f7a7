"""Redis pub/sub implementation of the ``Publisher`` protocol (production fan-out).

Every channel name is prefixed with the configured key prefix, so deployments (and test
runs) sharing one Redis server never hear each other. Each subscription holds its own
pub/sub connection: closing it is then the whole clean-up (the server drops the
subscription with the connection), which a cancelled reader cannot get wrong.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as redis
from redis.asyncio.client import PubSub

log = logging.getLogger(__name__)


class RedisPublisher:
    """Fan-out across processes through Redis PUBLISH/SUBSCRIBE (at-most-once delivery)."""

    def __init__(self, url: str, *, prefix: str) -> None:
        self._client: redis.Redis = redis.Redis.from_url(url)
        self._prefix = prefix

    def channel_name(self, channel: str) -> str:
        """The Redis channel that carries ``channel``."""
        return f"{self._prefix}:events:{channel}"

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        await self._client.publish(self.channel_name(channel), json.dumps(event, separators=(",", ":")))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            # Subscribed before the context is entered: a caller that reads the current
            # state from the database afterwards cannot miss an event published in between.
            await pubsub.subscribe(self.channel_name(channel))
            yield _messages(pubsub)
        finally:
            # aclose() disconnects the connection: the server forgets the subscription even
            # when the reader was cancelled half-way through a read.
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    async def numsub(self, channel: str) -> int:
        """Subscribers Redis counts on ``channel`` (all processes)."""
        counts = await self._client.pubsub_numsub(self.channel_name(channel))
        return int(counts[0][1]) if counts else 0

    async def close(self) -> None:
        await self._client.aclose()


async def _messages(pubsub: PubSub) -> AsyncIterator[dict[str, Any]]:
    while True:
        # timeout=None blocks until a message arrives (no polling loop).
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
        if message is None or message.get("type") != "message":
            continue
        try:
            event = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("dropping a malformed pub/sub message", extra={"channel": message.get("channel")})
            continue
        if isinstance(event, dict):
            yield event

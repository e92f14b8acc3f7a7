"""Both publishers: delivery in order, channel isolation, and nothing left behind on exit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.core.events import Publisher
from app.core.pubsub import InProcessPublisher, create_publisher
from app.core.redis_pubsub import RedisPublisher


async def _subscriber_count(publisher: Publisher, channel: str) -> int:
    if isinstance(publisher, RedisPublisher):
        return await publisher.numsub(channel)
    assert isinstance(publisher, InProcessPublisher)
    return publisher.subscriber_count(channel)


@pytest.fixture(params=["memory", "redis"])
async def publisher(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Publisher]:
    if request.param == "memory":
        pub: Publisher = create_publisher("memory://", prefix=redis_prefix)
    else:
        url = request.getfixturevalue("redis_url")
        request.applymarker(pytest.mark.redis)
        pub = create_publisher(url, prefix=redis_prefix)
    try:
        yield pub
    finally:
        await pub.close()


async def _take(events: AsyncIterator[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(anext(events), timeout=5) for _ in range(n)]


async def test_events_arrive_in_order_on_their_channel_only(publisher: Publisher) -> None:
    channel, other = f"job:{uuid.uuid4()}", f"job:{uuid.uuid4()}"
    async with publisher.subscribe(channel) as events, publisher.subscribe(other) as other_events:
        for i in range(3):
            await publisher.publish(channel, {"n": i, "nested": {"ok": True}})
        await publisher.publish(other, {"n": 99})
        assert await _take(events, 3) == [
            {"n": 0, "nested": {"ok": True}},
            {"n": 1, "nested": {"ok": True}},
            {"n": 2, "nested": {"ok": True}},
        ]
        assert await _take(other_events, 1) == [{"n": 99}]


async def test_every_subscriber_of_a_channel_gets_every_event(publisher: Publisher) -> None:
    channel = f"asset:{uuid.uuid4()}"
    async with publisher.subscribe(channel) as first, publisher.subscribe(channel) as second:
        assert await _subscriber_count(publisher, channel) == 2
        await publisher.publish(channel, {"type": "asset.updated"})
        assert await _take(first, 1) == [{"type": "asset.updated"}]
        assert await _take(second, 1) == [{"type": "asset.updated"}]


async def test_leaving_the_subscription_releases_it(publisher: Publisher) -> None:
    channel = f"job:{uuid.uuid4()}"
    async with publisher.subscribe(channel):
        assert await _subscriber_count(publisher, channel) == 1
    assert await _subscriber_count(publisher, channel) == 0


async def test_a_reader_cancelled_mid_wait_releases_its_subscription(publisher: Publisher) -> None:
    channel = f"job:{uuid.uuid4()}"
    subscribed = asyncio.Event()

    async def reader() -> None:
        async with publisher.subscribe(channel) as events:
            subscribed.set()
            async for _ in events:  # blocks: nothing is published
                pass

    task = asyncio.create_task(reader())
    await asyncio.wait_for(subscribed.wait(), timeout=5)
    assert await _subscriber_count(publisher, channel) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _subscriber_count(publisher, channel) == 0


async def test_publishing_without_subscribers_is_a_no_op(publisher: Publisher) -> None:
    await publisher.publish(f"job:{uuid.uuid4()}", {"type": "nobody listens"})


async def test_redis_channels_carry_the_prefix(redis_url: str, redis_prefix: str) -> None:
    publisher = RedisPublisher(redis_url, prefix=redis_prefix)
    try:
        assert publisher.channel_name("job:1") == f"{redis_prefix}:events:job:1"
        async with publisher.subscribe("job:1"):
            # Another deployment's prefix does not see this subscriber.
            stranger = RedisPublisher(redis_url, prefix=f"{redis_prefix}_other")
            try:
                assert await stranger.numsub("job:1") == 0
                assert await publisher.numsub("job:1") == 1
            finally:
                await stranger.close()
    finally:
        await publisher.close()


async def test_redis_skips_malformed_messages(redis_url: str, redis_prefix: str) -> None:
    publisher = RedisPublisher(redis_url, prefix=redis_prefix)
    raw = RedisPublisher(redis_url, prefix=redis_prefix)
    try:
        async with publisher.subscribe("job:x") as events:
            await raw._client.publish(publisher.channel_name("job:x"), b"not json")
            await raw._client.publish(publisher.channel_name("job:x"), b"[1, 2]")
            await publisher.publish("job:x", {"ok": 1})
            assert await _take(events, 1) == [{"ok": 1}]
    finally:
        await publisher.close()
        await raw.close()

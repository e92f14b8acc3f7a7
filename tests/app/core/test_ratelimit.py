"""Fixed-window counters, in-process and in the real Redis (a prefix per test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from app.core.ratelimit import InProcessRateLimiter, RateLimiter, RedisRateLimiter, create_rate_limiter


class Clock:
    """A settable clock: the window a take falls into is the test's choice, not the wall's."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def limiter_and_clock(
    request: pytest.FixtureRequest, redis_prefix: str
) -> AsyncIterator[tuple[RateLimiter, Clock]]:
    clock = Clock(1_000_040.0)  # 20 s into a 60 s window (16667 * 60 = 1_000_020)
    if request.param == "memory":
        yield InProcessRateLimiter(clock=clock), clock
        return
    url = request.getfixturevalue("redis_url")
    request.applymarker(pytest.mark.redis)
    limiter = RedisRateLimiter(url, prefix=f"{redis_prefix}_{uuid.uuid4().hex[:8]}", clock=clock)
    try:
        yield limiter, clock
    finally:
        await limiter.aclose()


async def test_requests_pass_up_to_the_limit_then_wait_for_the_next_window(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, clock = limiter_and_clock
    decisions = [await limiter.take("k", cost=1, limit=3, window_s=60) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4, 5]
    assert decisions[3].retry_after_s == pytest.approx(40.0)
    assert decisions[0].retry_after_s == 0.0
    # Other keys have their own budget.
    assert (await limiter.take("other", cost=1, limit=3, window_s=60)).allowed
    clock.now += 40.0  # the next window
    assert (await limiter.take("k", cost=1, limit=3, window_s=60)).allowed


async def test_a_byte_budget_is_checked_before_and_charged_after(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, _clock = limiter_and_clock
    assert (await limiter.take("bytes", cost=0, limit=1000, window_s=60)).allowed
    # One large ingest overdraws the window ...
    charged = await limiter.take("bytes", cost=5000, limit=1000, window_s=60)
    assert charged.count == 5000
    # ... and the next one waits.
    check = await limiter.take("bytes", cost=0, limit=1000, window_s=60)
    assert not check.allowed
    assert check.retry_after_s == pytest.approx(40.0)


async def test_redis_counters_are_shared_and_expire(redis_url: str, redis_prefix: str) -> None:
    prefix = f"{redis_prefix}_{uuid.uuid4().hex[:8]}"
    clock = Clock(1_000_040.0)
    first = RedisRateLimiter(redis_url, prefix=prefix, clock=clock)
    second = RedisRateLimiter(redis_url, prefix=prefix, clock=clock)
    raw = redis.Redis.from_url(redis_url)
    try:
        await first.take("k", cost=2, limit=3, window_s=60)
        # Another process sees the same count.
        assert (await second.take("k", cost=1, limit=3, window_s=60)).count == 3
        assert not (await second.take("k", cost=1, limit=3, window_s=60)).allowed
        name = first.key_name("k", 60, 16667)
        assert await raw.get(name) == b"4"
        assert 0 < await raw.ttl(name) <= 120
    finally:
        await raw.delete(first.key_name("k", 60, 16667))
        await raw.aclose()
        await first.aclose()
        await second.aclose()


def test_the_url_chooses_the_store() -> None:
    assert isinstance(create_rate_limiter("memory://", prefix="p"), InProcessRateLimiter)
    assert isinstance(create_rate_limiter("redis://127.0.0.1:6379/0", prefix="p"), RedisRateLimiter)
    with pytest.raises(ValueError, match="unsupported rate limit URL"):
        create_rate_limiter("http://x", prefix="p")

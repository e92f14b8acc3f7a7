"""Fixed-window rate limits per caller: in-process, or shared through Redis.

A limit is ``limit`` units (requests, bytes) per ``window_s`` seconds. ``take`` adds ``cost``
to the caller's count for the current window and allows the call when the count BEFORE it was
below the limit: a request (cost 1) is allowed while the count stays within the limit; a check
before work of unknown size (cost 0) passes while any budget is left, and the work's real size
is charged afterwards (``take`` again with that cost), so one large ingest may overdraw the
window but the next one waits.

Fixed windows allow at most twice the limit across a window boundary; that is the accepted
price of one counter per caller and window (one Redis INCRBY, no Lua, no clock sync beyond
the key's expiry). Windows are aligned to the epoch, so every process agrees on them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one ``take``."""

    allowed: bool
    count: int  # the window's count after this take
    retry_after_s: float  # until the window ends (0 when allowed)


class RateLimiter(Protocol):
    """Counts units per key in fixed windows."""

    async def take(self, key: str, *, cost: int, limit: int, window_s: float) -> Decision:
        """Add ``cost`` to ``key``'s current window; allowed if the count before was below ``limit``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _window(now: float, window_s: float) -> tuple[int, float]:
    index = math.floor(now / window_s)
    return index, (index + 1) * window_s - now


def _decide(count: int, cost: int, limit: int, retry_after_s: float) -> Decision:
    allowed = count - cost < limit
    return Decision(allowed=allowed, count=count, retry_after_s=0.0 if allowed else retry_after_s)


class InProcessRateLimiter:
    """Counters in this process's memory (the embedded default: one API process)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._counts: dict[tuple[str, float, int], int] = {}
        self._clock = clock

    async def take(self, key: str, *, cost: int, limit: int, window_s: float) -> Decision:
        index, retry_after = _window(self._clock(), window_s)
        slot = (key, window_s, index)
        count = self._counts.get(slot, 0) + cost
        self._counts[slot] = count
        if len(self._counts) > 10_000:
            # Drop past windows: they never count again.
            self._counts = {k: v for k, v in self._counts.items() if k[2] >= index}
        return _decide(count, cost, limit, retry_after)

    async def aclose(self) -> None:
        return None


class RedisRateLimiter:
    """Counters in Redis, shared by every API process: one INCRBY per take, keys expire with
    their window."""

    def __init__(self, url: str, *, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self._client: redis.Redis = redis.Redis.from_url(url)
        self._prefix = prefix
        self._clock = clock

    def key_name(self, key: str, window_s: float, index: int) -> str:
        """The Redis key of ``key``'s counter in window ``index``."""
        return f"{self._prefix}:ratelimit:{key}:{window_s:g}:{index}"

    async def take(self, key: str, *, cost: int, limit: int, window_s: float) -> Decision:
        index, retry_after = _window(self._clock(), window_s)
        name = self.key_name(key, window_s, index)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incrby(name, cost)
            # Kept a window past its end: a clock a little behind still finds its count.
            pipe.expire(name, math.ceil(2 * window_s))
            count, _ = await pipe.execute()
        return _decide(int(count), cost, limit, retry_after)

    async def aclose(self) -> None:
        await self._client.aclose()


def create_rate_limiter(url: str, *, prefix: str) -> RateLimiter:
    """The limiter for ``url``: ``redis://`` (shared) or ``memory://`` (this process)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisRateLimiter(url, prefix=prefix)
    if url.startswith("memory://"):
        return InProcessRateLimiter()
    raise ValueError(f"unsupported rate limit URL {url!r} (redis:// or memory://)")


__all__ = ["Decision", "InProcessRateLimiter", "RateLimiter", "RedisRateLimiter", "create_rate_limiter"]

"""Following a publisher channel from a subscription resolver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

# Pub/sub delivers at most once: a subscriber that hears nothing for this long re-reads the
# database, so a lost final event cannot leave it waiting forever.
RESYNC_AFTER_S = 15.0


async def _next(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await anext(events)


async def events_or_silence(
    events: AsyncIterator[dict[str, Any]], *, silence_s: float = RESYNC_AFTER_S
) -> AsyncIterator[dict[str, Any] | None]:
    """The events of ``events``, and None after each ``silence_s`` without one.

    The pending read survives a silence (it is not cancelled: cancelling an async generator's
    ``__anext__`` would close it), and is cancelled when the caller stops iterating.
    """
    pending: asyncio.Task[dict[str, Any]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(_next(events))
            done, _ = await asyncio.wait({pending}, timeout=silence_s)
            if not done:
                yield None
                continue
            task, pending = pending, None
            yield task.result()
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)

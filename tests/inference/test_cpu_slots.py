"""One CPU budget for concurrent model calls: a call holds as many slots as threads it runs."""

from __future__ import annotations

import asyncio

import pytest

from inference.local import CpuSlots


async def test_calls_never_hold_more_slots_than_the_budget() -> None:
    slots = CpuSlots(2)
    held, peak = 0, 0

    async def call(width: int) -> None:
        nonlocal held, peak
        taken = await slots.acquire(width)
        held += taken
        peak = max(peak, held)
        await asyncio.sleep(0.01)
        held -= taken
        slots.release(taken)

    await asyncio.gather(*(call(w) for w in (1, 2, 1, 1, 2, 1)))
    assert peak == 2
    assert held == 0


async def test_a_wide_call_is_not_starved_by_narrow_ones() -> None:
    slots = CpuSlots(2)
    order: list[str] = []
    first = await slots.acquire(1)

    async def call(name: str, width: int) -> None:
        taken = await slots.acquire(width)
        order.append(name)
        slots.release(taken)

    wide = asyncio.ensure_future(call("wide", 2))
    await asyncio.sleep(0)
    narrow = asyncio.ensure_future(call("narrow", 1))  # would fit now, but arrived later
    await asyncio.sleep(0)
    assert order == []
    slots.release(first)
    await asyncio.gather(wide, narrow)
    assert order == ["wide", "narrow"]


async def test_a_cancelled_waiter_gives_nothing_away() -> None:
    slots = CpuSlots(1)
    taken = await slots.acquire(1)
    waiter = asyncio.ensure_future(slots.acquire(1))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    slots.release(taken)
    assert await slots.acquire(1) == 1

"""Micro-batching mechanics on a small numpy model (no ML weights); MiniLM batching is in
test_text_embeddings.py."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pytest

from inference.batching import BatchingBackend
from inference.local import LocalBackend, ModelPool
from inference.models.base import LocalOptions, Runner
from inference.registry import ModelSpec, Tensors, TensorSpec
from tests.inference.test_local import SQUARE

UNBATCHED = ModelSpec(
    name="negate",
    version="1",
    task="ocr",
    inputs=(TensorSpec("x", "FP32", (-1,)),),
    outputs=(TensorSpec("y", "FP32", (-1,)),),
    backends=frozenset({"local"}),
)


def _square(spec: ModelSpec, options: LocalOptions) -> Runner:
    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        x = np.asarray(inputs["x"], dtype=np.float32)
        if np.isnan(x).any():
            raise ValueError("nan input")
        return {"y": x * x}

    return run


def _negate(spec: ModelSpec, options: LocalOptions) -> Runner:
    return lambda inputs: {"y": -np.asarray(inputs["x"], dtype=np.float32)}


def _backend(max_items: int = 8, delay_ms: float = 20.0) -> BatchingBackend:
    pool = ModelPool(factories={SQUARE.key: _square, UNBATCHED.key: _negate})
    return BatchingBackend(LocalBackend(pool, threads=2), max_items=max_items, max_delay_ms=delay_ms)


def _one_slot(max_items: int | None, delay_ms: float = 20.0) -> BatchingBackend:
    pool = ModelPool(factories={SQUARE.key: _square})
    return BatchingBackend(
        LocalBackend(pool, threads=2, max_concurrency={"square": 1}),
        max_items=max_items,
        max_delay_ms=delay_ms,
    )


def _row(i: int, n: int = 1) -> npt.NDArray[np.float32]:
    return np.arange(i, i + 4 * n, dtype=np.float32).reshape(n, 4)


async def test_concurrent_requests_are_coalesced_and_answered_in_order() -> None:
    backend = _backend(max_items=8)
    try:
        outs = await asyncio.gather(*(backend.infer(SQUARE, {"x": _row(i)}) for i in range(20)))
    finally:
        await backend.aclose()
    for i, out in enumerate(outs):
        np.testing.assert_array_equal(out["y"], _row(i) ** 2)
    sizes = backend.batch_sizes[SQUARE.key]
    assert sum(size * count for size, count in sizes.items()) == 20
    # The first full queue (8) is split over SQUARE's two slots; the 12 that queue meanwhile
    # go as a full batch and the rest when the slots free up.
    assert dict(sizes) == {4: 3, 8: 1}


async def test_a_lone_request_is_sent_after_the_delay() -> None:
    backend = _backend(max_items=8, delay_ms=30.0)
    try:
        started = asyncio.get_running_loop().time()
        out = await backend.infer(SQUARE, {"x": _row(1, 3)})
        waited = asyncio.get_running_loop().time() - started
    finally:
        await backend.aclose()
    assert out["y"].shape == (3, 4)
    assert waited >= 0.025
    assert dict(backend.batch_sizes[SQUARE.key]) == {3: 1}


async def test_requests_are_not_split_across_batches() -> None:
    backend = _backend(max_items=8)
    try:
        outs = await asyncio.gather(*(backend.infer(SQUARE, {"x": _row(i, 3)}) for i in range(4)))
    finally:
        await backend.aclose()
    assert [o["y"].shape[0] for o in outs] == [3, 3, 3, 3]
    # Whole requests only: 9 queued items split over two slots go as 3 + 3, never 5 + 4.
    assert dict(backend.batch_sizes[SQUARE.key]) == {3: 2, 6: 1}


async def test_requests_queued_while_a_batch_runs_go_as_one_batch_after_it() -> None:
    backend = _one_slot(max_items=None)
    try:
        first = asyncio.ensure_future(backend.infer(SQUARE, {"x": _row(0, 2)}))
        await asyncio.sleep(0)  # the first request is queued; its timer runs
        rest = [asyncio.ensure_future(backend.infer(SQUARE, {"x": _row(i)})) for i in range(1, 4)]
        await asyncio.sleep(0.05)  # the first batch went after the 20 ms window
        more = [asyncio.ensure_future(backend.infer(SQUARE, {"x": _row(i)})) for i in range(4, 7)]
        outs = await asyncio.gather(first, *rest, *more)
    finally:
        await backend.aclose()
    for i, out in enumerate(outs[1:], start=1):
        np.testing.assert_array_equal(out["y"], _row(i) ** 2)
    # The model's own max batch (8), not a smaller fixed cap, bounds the batches.
    assert sum(size * count for size, count in backend.batch_sizes[SQUARE.key].items()) == 8
    assert max(backend.batch_sizes[SQUARE.key]) <= SQUARE.max_batch_size


async def test_a_full_queue_waits_for_the_running_batch_instead_of_queueing_behind_it() -> None:
    backend = _one_slot(max_items=2, delay_ms=1000.0)
    try:
        outs = await asyncio.gather(*(backend.infer(SQUARE, {"x": _row(i)}) for i in range(6)))
    finally:
        await backend.aclose()
    assert [o["y"].shape for o in outs] == [(1, 4)] * 6
    # Full batches never wait for the 1 s timer; one slot: three batches of two, one at a time.
    assert dict(backend.batch_sizes[SQUARE.key]) == {2: 3}


async def test_a_failed_batch_fails_every_request_in_it() -> None:
    backend = _one_slot(max_items=4)  # one slot: the two requests share a batch
    bad = np.full((1, 4), np.nan, dtype=np.float32)
    try:
        results = await asyncio.gather(
            backend.infer(SQUARE, {"x": _row(0)}),
            backend.infer(SQUARE, {"x": bad}),
            return_exceptions=True,
        )
        # The batcher recovers: the next batch works.
        after = await backend.infer(SQUARE, {"x": _row(2)})
    finally:
        await backend.aclose()
    assert all(isinstance(r, ValueError) for r in results)
    np.testing.assert_array_equal(after["y"], _row(2) ** 2)


async def test_unbatched_models_pass_straight_through() -> None:
    backend = _backend()
    try:
        out = await backend.infer(UNBATCHED, {"x": np.ones(5, dtype=np.float32)})
    finally:
        await backend.aclose()
    assert out["y"].tolist() == [-1.0] * 5
    assert UNBATCHED.key not in backend.batch_sizes


def test_max_items_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_items"):
        BatchingBackend(LocalBackend(ModelPool(factories={})), max_items=0)

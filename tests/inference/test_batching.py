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
    assert max(sizes) == 8  # full batches were sent without waiting for the timer
    assert sizes[8] == 2
    assert sizes[4] == 1


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
    assert dict(backend.batch_sizes[SQUARE.key]) == {6: 2}


async def test_a_failed_batch_fails_every_request_in_it() -> None:
    backend = _backend(max_items=4)
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

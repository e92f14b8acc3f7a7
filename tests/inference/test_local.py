"""LocalBackend and ModelPool mechanics, on a small numpy model defined here (no ML weights)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pytest

from inference.backend import InferenceBackend
from inference.errors import ContractError, UnknownModelError
from inference.local import LocalBackend, ModelPool
from inference.models.base import LocalOptions, Runner
from inference.registry import ModelSpec, Tensors, TensorSpec

SQUARE = ModelSpec(
    name="square",
    version="1",
    task="embed_text",
    inputs=(TensorSpec("x", "FP32", (4,)),),
    outputs=(TensorSpec("y", "FP32", (4,)),),
    backends=frozenset({"local"}),
    max_batch_size=8,
    max_concurrency=2,
)


class SlowSquare:
    """Loads slowly once, then squares its input; records concurrency."""

    def __init__(self, load_seconds: float = 0.2, call_seconds: float = 0.05) -> None:
        self.loads = 0
        self.load_seconds = load_seconds
        self.call_seconds = call_seconds
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def factory(self, spec: ModelSpec, options: LocalOptions) -> Runner:
        self.loads += 1
        time.sleep(self.load_seconds)

        def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
            with self._lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
            time.sleep(self.call_seconds)
            with self._lock:
                self.active -= 1
            x = np.asarray(inputs["x"], dtype=np.float32)
            return {"y": x * x}

        return run


def test_local_backend_satisfies_the_protocol() -> None:
    backend = LocalBackend(ModelPool(factories={}))
    assert isinstance(backend, InferenceBackend)


async def test_model_loads_once_under_concurrent_first_calls() -> None:
    model = SlowSquare()
    backend = LocalBackend(ModelPool(factories={SQUARE.key: model.factory}), threads=4)
    try:
        x = np.arange(4, dtype=np.float32).reshape(1, 4)
        results = await asyncio.gather(*(backend.infer(SQUARE, {"x": x}) for _ in range(6)))
    finally:
        await backend.aclose()
    assert model.loads == 1
    assert len(backend.pool.loads) == 1
    assert backend.pool.loads[0].seconds >= 0.2
    assert all(r["y"].tolist() == [[0.0, 1.0, 4.0, 9.0]] for r in results)


async def test_concurrency_is_bounded_per_model() -> None:
    model = SlowSquare(load_seconds=0)
    backend = LocalBackend(ModelPool(factories={SQUARE.key: model.factory}), threads=6)
    x = np.ones((1, 4), dtype=np.float32)
    try:
        await asyncio.gather(*(backend.infer(SQUARE, {"x": x}) for _ in range(8)))
    finally:
        await backend.aclose()
    assert model.peak == 2  # SQUARE.max_concurrency, although six threads were free
    assert backend.stats[SQUARE.key].max_in_flight == 2
    assert backend.stats[SQUARE.key].calls == 8


async def test_concurrency_limit_can_be_overridden_by_name() -> None:
    model = SlowSquare(load_seconds=0)
    backend = LocalBackend(
        ModelPool(factories={SQUARE.key: model.factory}), threads=6, max_concurrency={"square": 1}
    )
    x = np.ones((1, 4), dtype=np.float32)
    try:
        await asyncio.gather(*(backend.infer(SQUARE, {"x": x}) for _ in range(4)))
    finally:
        await backend.aclose()
    assert model.peak == 1


async def test_unknown_model_and_bad_inputs_fail_clearly() -> None:
    backend = LocalBackend(ModelPool(factories={SQUARE.key: SlowSquare(load_seconds=0).factory}))
    other = ModelSpec(
        name="other",
        version="1",
        task="embed_text",
        inputs=SQUARE.inputs,
        outputs=SQUARE.outputs,
        backends=frozenset({"local"}),
        max_batch_size=8,
    )
    try:
        assert not await backend.is_ready(other)
        with pytest.raises(UnknownModelError, match="other:1"):
            await backend.infer(other, {"x": np.ones((1, 4), dtype=np.float32)})
        with pytest.raises(ContractError, match="shape"):
            await backend.infer(SQUARE, {"x": np.ones((1, 5), dtype=np.float32)})
    finally:
        await backend.aclose()


async def test_runner_output_that_breaks_the_contract_is_caught() -> None:
    def factory(spec: ModelSpec, options: LocalOptions) -> Runner:
        return lambda inputs: {"y": np.zeros((2, 4), dtype=np.float32)}

    backend = LocalBackend(ModelPool(factories={SQUARE.key: factory}))
    try:
        with pytest.raises(ContractError, match="batch 2"):
            await backend.infer(SQUARE, {"x": np.ones((3, 4), dtype=np.float32)})
    finally:
        await backend.aclose()

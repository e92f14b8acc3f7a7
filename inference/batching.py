"""Client-side micro-batching: many small concurrent requests become a few larger model calls.

A batch is sent when it holds ``max_items`` items or when its oldest request has waited
``max_delay_ms``, whichever comes first. Requests are never split: one that is larger than the
room left starts the next batch, and one larger than the model's ``max_batch_size`` is sent
alone (the backend then rejects it, as it would unbatched). Only models whose leading dim is a
batch (``max_batch_size > 0``) are batched; the rest pass straight through.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from inference.backend import InferenceBackend
from inference.registry import ModelSpec, Tensors


@dataclass(slots=True)
class _Pending:
    inputs: Mapping[str, npt.NDArray[np.generic]]
    size: int
    future: asyncio.Future[Tensors]


@dataclass(slots=True)
class _Queue:
    pending: list[_Pending] = field(default_factory=list)
    items: int = 0
    timer: asyncio.TimerHandle | None = None


class BatchingBackend:
    """Wraps a backend and coalesces concurrent calls to batchable models."""

    def __init__(self, inner: InferenceBackend, *, max_items: int = 32, max_delay_ms: float = 5.0) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.inner = inner
        self.name = inner.name
        self.max_items = max_items
        self.max_delay = max_delay_ms / 1000.0
        self._queues: dict[str, _Queue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Items per model call actually sent, per model key: the observable effect of batching.
        self.batch_sizes: dict[str, Counter[int]] = {}

    async def infer(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        """Queue ``inputs`` for the next batch of ``spec`` and wait for its share of the outputs."""
        if not spec.batched:
            return await self.inner.infer(spec, inputs)
        size = spec.validate_inputs(inputs) or 0
        if size == 0:
            return await self.inner.infer(spec, inputs)
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(spec.key, _Queue())
        limit = min(self.max_items, spec.max_batch_size)
        if queue.items and queue.items + size > limit:
            self._flush(spec, queue)
        future: asyncio.Future[Tensors] = loop.create_future()
        queue.pending.append(_Pending(inputs, size, future))
        queue.items += size
        if queue.items >= limit:
            self._flush(spec, queue)
        elif queue.timer is None:
            queue.timer = loop.call_later(self.max_delay, self._flush, spec, queue)
        return await future

    def _flush(self, spec: ModelSpec, queue: _Queue) -> None:
        if queue.timer is not None:
            queue.timer.cancel()
            queue.timer = None
        if not queue.pending:
            return
        batch, queue.pending, queue.items = queue.pending, [], 0
        task = asyncio.get_running_loop().create_task(self._send(spec, batch))
        # Keep a reference: the loop holds tasks weakly and a collected task never finishes.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, spec: ModelSpec, batch: list[_Pending]) -> None:
        total = sum(p.size for p in batch)
        self.batch_sizes.setdefault(spec.key, Counter())[total] += 1
        try:
            if len(batch) == 1:
                merged = dict(batch[0].inputs)
            else:
                merged = {
                    tensor.name: np.concatenate([p.inputs[tensor.name] for p in batch], axis=0)
                    for tensor in spec.inputs
                }
            outputs = await self.inner.infer(spec, merged)
        except BaseException as exc:  # every waiter must learn of the failure, whatever it is
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        offset = 0
        for pending in batch:
            part = {name: array[offset : offset + pending.size] for name, array in outputs.items()}
            offset += pending.size
            if not pending.future.done():  # the caller may have been cancelled meanwhile
                pending.future.set_result(part)

    async def is_ready(self, spec: ModelSpec) -> bool:
        """Delegates to the wrapped backend."""
        return await self.inner.is_ready(spec)

    async def aclose(self) -> None:
        """Cancel requests still queued, wait for batches in flight, close the wrapped backend."""
        for queue in self._queues.values():
            if queue.timer is not None:
                queue.timer.cancel()
            for pending in queue.pending:
                pending.future.cancel()
        self._queues.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.inner.aclose()

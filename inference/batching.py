"""Client-side micro-batching: many small concurrent requests become a few larger model calls.

Per model, at most as many batches run at once as the wrapped backend runs calls of it (its
``concurrency(spec)``, else the spec's ``max_concurrency``); a flush splits the queue evenly
over the free ones, so two one-thread calls keep two cores busy. While they run, new requests
wait in the queue, and the queue is sent the moment a running batch finishes: under load a
batch grows to whatever arrived during one model call (continuous batching), up to
``max_items`` (default: the model's ``max_batch_size``). When the model is idle a batch is sent
when it is full or when its oldest request has waited ``max_delay_ms``. The former fixed
window (32 items or 5 ms, batches queued behind each other in the backend) ran 64 concurrent
single texts as two serial one-core batches of 32: 0.40 of the model's offline batch-64 rate.

Requests are never split: a batch takes whole requests from the front of the queue while they
fit, and one larger than the model's ``max_batch_size`` is sent alone (the backend then
rejects it, as it would unbatched). Only models whose leading dim is a batch
(``max_batch_size > 0``) are batched; the rest pass straight through.
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
    # Batches of this model sent and not yet answered.
    in_flight: int = 0


class BatchingBackend:
    """Wraps a backend and coalesces concurrent calls to batchable models."""

    def __init__(
        self, inner: InferenceBackend, *, max_items: int | None = None, max_delay_ms: float = 5.0
    ) -> None:
        if max_items is not None and max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.inner = inner
        self.name = inner.name
        self.max_items = max_items
        self.max_delay = max_delay_ms / 1000.0
        self._queues: dict[str, _Queue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Items per model call actually sent, per model key: the observable effect of batching.
        self.batch_sizes: dict[str, Counter[int]] = {}

    def _limit(self, spec: ModelSpec) -> int:
        return spec.max_batch_size if self.max_items is None else min(self.max_items, spec.max_batch_size)

    async def infer(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        """Queue ``inputs`` for the next batch of ``spec`` and wait for its share of the outputs."""
        if not spec.batched:
            return await self.inner.infer(spec, inputs)
        size = spec.validate_inputs(inputs) or 0
        if size == 0:
            return await self.inner.infer(spec, inputs)
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(spec.key, _Queue())
        future: asyncio.Future[Tensors] = loop.create_future()
        queue.pending.append(_Pending(inputs, size, future))
        queue.items += size
        if queue.in_flight >= self._slots(spec):
            pass  # the batch that finishes first sends this one with everything queued by then
        elif queue.items >= self._limit(spec):
            self._flush(spec, queue)
        elif queue.timer is None:
            queue.timer = loop.call_later(self.max_delay, self._flush, spec, queue)
        return await future

    def _slots(self, spec: ModelSpec) -> int:
        concurrency = getattr(self.inner, "concurrency", None)
        return max(1, concurrency(spec) if concurrency is not None else spec.max_concurrency)

    def _flush(self, spec: ModelSpec, queue: _Queue) -> None:
        """Send what is queued, split evenly over the model's free slots."""
        if queue.timer is not None:
            queue.timer.cancel()
            queue.timer = None
        limit, slots = self._limit(spec), self._slots(spec)
        free = slots - queue.in_flight
        if free <= 0 or not queue.pending:
            return  # a running batch sends the queue when it finishes
        # Two one-thread calls on two free cores beat one call twice the size: split the queue
        # into as many batches as slots are free (each still at most ``limit`` items).
        parts = min(free, len(queue.pending))
        target = max(1, min(limit, -(-min(queue.items, limit * parts) // parts)))
        for _ in range(parts):
            if not queue.pending:
                break
            taken, items = 1, queue.pending[0].size
            while taken < len(queue.pending) and items + queue.pending[taken].size <= target:
                items += queue.pending[taken].size
                taken += 1
            batch, queue.pending = queue.pending[:taken], queue.pending[taken:]
            queue.items -= items
            queue.in_flight += 1
            task = asyncio.get_running_loop().create_task(self._send(spec, queue, batch))
            # Keep a reference: the loop holds tasks weakly and a collected task never finishes.
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if queue.pending and queue.timer is None and queue.in_flight < slots:
            queue.timer = asyncio.get_running_loop().call_later(self.max_delay, self._flush, spec, queue)

    async def _send(self, spec: ModelSpec, queue: _Queue, batch: list[_Pending]) -> None:
        try:
            await self._run(spec, batch)
        finally:
            queue.in_flight -= 1
            # What queued meanwhile has already waited a whole model call: send it now.
            if queue.pending:
                self._flush(spec, queue)

    async def _run(self, spec: ModelSpec, batch: list[_Pending]) -> None:
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
            queue.pending.clear()
            queue.items = 0
        self._queues.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.inner.aclose()

"""The in-process backend: models run on this CPU in a thread pool.

:class:`ModelPool` owns the loaded models (loaded lazily, once, thread-safely) and outlives
event loops, so a process or a test session loads each model once; :class:`LocalBackend`
schedules calls onto worker threads with a bound on concurrent calls per model.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from inference import models as _models  # noqa: F401  (sets the offline guards before any loader runs)
from inference.errors import UnknownModelError
from inference.models.base import LocalOptions, Runner, RunnerFactory
from inference.registry import (
    DLIB_FACE_DESCRIPTOR,
    DLIB_HOG_FACES,
    HAAR_FACES,
    MINILM_FP32,
    MINILM_INT8,
    MOBILENET_FEATURES_SPEC,
    MOBILENET_LABELS,
    RAPIDOCR,
    WHISPER_BASE,
    WHISPER_TINY_EN,
    ModelSpec,
    Tensors,
)


def _factory(module: str, function: str) -> RunnerFactory:
    # Imported on first load: importing torch, transformers or faster-whisper costs seconds and
    # a process that never transcribes should not pay for faster-whisper.
    def load(spec: ModelSpec, options: LocalOptions) -> Runner:
        import importlib

        loader: RunnerFactory = getattr(importlib.import_module(module), function)
        return loader(spec, options)

    return load


def default_factories() -> dict[str, RunnerFactory]:
    """Runner factories for every shipped model, by registry key."""
    return {
        MINILM_FP32.key: _factory("inference.models.text", "load_minilm_fp32"),
        MINILM_INT8.key: _factory("inference.models.text", "load_minilm_int8"),
        WHISPER_TINY_EN.key: _factory("inference.models.whisper", "load_whisper"),
        WHISPER_BASE.key: _factory("inference.models.whisper", "load_whisper"),
        RAPIDOCR.key: _factory("inference.models.vision", "load_rapidocr"),
        MOBILENET_LABELS.key: _factory("inference.models.vision", "load_mobilenet_labels"),
        MOBILENET_FEATURES_SPEC.key: _factory("inference.models.vision", "load_mobilenet_features"),
        HAAR_FACES.key: _factory("inference.models.vision", "load_haar_faces"),
        DLIB_HOG_FACES.key: _factory("inference.models.faces", "load_dlib_hog"),
        DLIB_FACE_DESCRIPTOR.key: _factory("inference.models.faces", "load_dlib_descriptor"),
    }


@dataclass(slots=True)
class LoadRecord:
    """When and how long a model took to load (for logs, metrics and docs)."""

    key: str
    seconds: float


class ModelPool:
    """Loaded runners by model key; each is loaded at most once, whatever the concurrency."""

    def __init__(
        self,
        options: LocalOptions | None = None,
        factories: Mapping[str, RunnerFactory] | None = None,
    ) -> None:
        self.options = options or LocalOptions()
        self._factories: dict[str, RunnerFactory] = dict(factories or default_factories())
        self._runners: dict[str, Runner] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.loads: list[LoadRecord] = []

    def add_factory(self, spec: ModelSpec, factory: RunnerFactory) -> None:
        """Make ``spec`` loadable (CLIP directories and other run-time models)."""
        with self._guard:
            self._factories[spec.key] = factory

    def can_serve(self, spec: ModelSpec) -> bool:
        """True when a factory for ``spec`` is known."""
        return spec.key in self._factories

    def get(self, spec: ModelSpec) -> Runner:
        """The runner for ``spec``, loading it on first use (blocking: call off the event loop)."""
        runner = self._runners.get(spec.key)
        if runner is not None:
            return runner
        with self._guard:
            factory = self._factories.get(spec.key)
            if factory is None:
                raise UnknownModelError(f"the local backend cannot serve {spec.key}")
            lock = self._locks.setdefault(spec.key, threading.Lock())
        # A per-model lock: loading whisper must not hold up a call to an already-loaded model.
        with lock:
            runner = self._runners.get(spec.key)
            if runner is None:
                started = time.perf_counter()
                runner = factory(spec, self.options)
                self.loads.append(LoadRecord(spec.key, time.perf_counter() - started))
                self._runners[spec.key] = runner
        return runner


class CpuSlots:
    """A weighted semaphore over the process's cores: a model call holds as many slots as the
    threads it runs (whisper two, the rest one), so concurrent stages together never run more
    compute threads than the budget. Waiters are served in arrival order, so a two-slot call
    is not starved by a stream of one-slot calls."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._free = budget
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def acquire(self, slots: int) -> int:
        """Take ``slots`` (at most the budget) and return how many were taken."""
        slots = max(1, min(slots, self.budget))
        if not self._waiters and self._free >= slots:
            self._free -= slots
            return slots
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (slots, future)
        self._waiters.append(entry)
        try:
            await future
        except BaseException:
            if entry in self._waiters:
                self._waiters.remove(entry)
            elif future.done() and not future.cancelled():
                self.release(slots)  # granted and cancelled in the same instant: hand them on
            raise
        return slots

    def release(self, slots: int) -> None:
        """Give ``slots`` back and wake the waiters at the front that now fit."""
        self._free += slots
        while self._waiters and self._waiters[0][0] <= self._free:
            wanted, future = self._waiters.pop(0)
            if future.done():
                continue
            self._free -= wanted
            future.set_result(None)


@dataclass(slots=True)
class CallStats:
    """Per-model call counters of one backend."""

    calls: int = 0
    items: int = 0
    max_in_flight: int = 0
    in_flight: int = 0
    seconds: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)


class LocalBackend:
    """Runs models from a :class:`ModelPool` on worker threads."""

    name = "local"

    def __init__(
        self,
        pool: ModelPool | None = None,
        *,
        threads: int = 2,
        max_concurrency: Mapping[str, int] | None = None,
        validate: bool = True,
        cpu_budget: int = 0,
    ) -> None:
        self.pool = pool or ModelPool()
        # Bounds the threads of concurrent calls together (CpuSlots); 0 leaves only ``threads``.
        self._cpu = CpuSlots(cpu_budget) if cpu_budget > 0 else None
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="inference")
        self._limits = dict(max_concurrency or {})
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._validate = validate
        self.stats: dict[str, CallStats] = {}

    def concurrency(self, spec: ModelSpec) -> int:
        """Calls of ``spec`` this backend runs at once (the batcher sizes its batches by it)."""
        return max(1, self._limits.get(spec.key, self._limits.get(spec.name, spec.max_concurrency)))

    def _semaphore(self, spec: ModelSpec) -> asyncio.Semaphore:
        sem = self._semaphores.get(spec.key)
        if sem is None:
            sem = self._semaphores[spec.key] = asyncio.Semaphore(self.concurrency(spec))
        return sem

    async def infer(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        """Run ``spec`` on a worker thread; at most its concurrency limit at once."""
        # Imported here, not with the module: the Triton server's Python backend imports this
        # module for ModelPool, in an environment without the OpenTelemetry API.
        from inference.telemetry import model_call, on_call_thread

        batch = spec.validate_inputs(inputs) if self._validate else None
        stats = self.stats.setdefault(spec.key, CallStats())
        loop = asyncio.get_running_loop()
        # The span and latency include the wait for a slot: that is what the caller waits.
        with model_call(spec.name, spec.version, self.name, batch_size=batch or 1):
            async with self._semaphore(spec):
                taken = await self._cpu.acquire(self._threads_of(spec)) if self._cpu else 0
                stats.in_flight += 1
                stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                started = time.perf_counter()
                # A model whose requests are never batched works for this one caller while its
                # thread runs: the thread runs in the caller's context, so the service can charge
                # its CPU to the caller. A batch may mix callers: its thread is nobody's alone.
                run = self._run if spec.batched else on_call_thread(self._run)
                try:
                    outputs = await loop.run_in_executor(
                        self._executor, contextvars.copy_context().run, run, spec, dict(inputs)
                    )
                finally:
                    stats.in_flight -= 1
                    if self._cpu:
                        self._cpu.release(taken)
                stats.seconds += time.perf_counter() - started
        stats.calls += 1
        stats.items += batch if batch is not None else 1
        if batch is not None:
            stats.batch_sizes.append(batch)
        if self._validate:
            spec.validate_outputs(outputs, batch)
        return outputs

    def _threads_of(self, spec: ModelSpec) -> int:
        options = self.pool.options
        if spec.task == "transcribe":
            return options.whisper_threads
        return options.cpu_threads or 1

    def _run(self, spec: ModelSpec, inputs: dict[str, npt.NDArray[np.generic]]) -> Tensors:
        return self.pool.get(spec)(inputs)

    async def load(self, spec: ModelSpec) -> None:
        """Load ``spec`` now (warm-up) instead of on its first call."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.pool.get, spec)

    async def is_ready(self, spec: ModelSpec) -> bool:
        """Local models are ready when a factory exists; loading happens on first use."""
        return self.pool.can_serve(spec)

    async def aclose(self) -> None:
        """Stop the worker threads after running calls finish."""
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)

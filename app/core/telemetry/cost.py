"""What processing one item costs: CPU-seconds, GPU-seconds and stored bytes, priced.

A stage run is measured with :func:`track` and yields a :class:`CostMeter`; the job system
adds ``meter.as_dict()`` into ``Job.cost`` with :func:`merge` (stages of one job may run in
different processes, so the job row, not memory, accumulates the total) and, when the job
ends, calls :func:`record_item_cost` once, which exports the cost per item by asset kind.

CPU time is process CPU time (``time.process_time``: every thread, including the native
threads of onnxruntime and CTranslate2 that a per-thread clock would miss), attributed in two
parts. A thread that works for one stage alone (a stage's ``run_sync`` call, wrapped by
:func:`charged_to_stage`) is charged to that stage by its own CPU clock, exactly, however many
stages run beside it. The rest (the shared event loop, model-server threads whose batches
mix stages, native threads) is split evenly among the stages active while it was spent: exact
for one stage at a time, a fair estimate otherwise. :func:`settle` brings a meter up to date;
a stage's cost is read after it, never before.

Per model: the inference library marks each use of a model for a caller (``model_use``) and the
thread that runs one caller's call alone (``on_call_thread``); :func:`model_block` and
:func:`charged_call_thread` (connected by ``app.core.telemetry.setup.connect_inference``) book
them to a :class:`ModelMeter` of the stage's meter. A model's meter is charged the same way as
a stage's: its call thread by its own clock, and while its calls are in flight, the stage's
share of the rest (split evenly among the stage's models in flight); its GPU time is reported
inside the block. Everything a model meter is charged counts into its stage's meter as well,
so the stage's total is the same with or without per-model records, and the models' CPU
never sums to more than the stage's.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from app.core.telemetry import instruments, metrics
from app.core.telemetry.model_usage import ModelUsage

if TYPE_CHECKING:
    from app.core.settings import Settings
    from inference.telemetry import ModelUse

BYTES_PER_GB = 1_000_000_000  # storage is billed in decimal gigabytes

# The components a job's cost dict holds; every other key is derived from these.
COMPONENTS = ("cpu_seconds", "gpu_seconds", "stored_bytes")


@dataclass(frozen=True)
class Prices:
    """Prices of the three resources, in ``currency``."""

    cpu_second: float
    gpu_second: float
    storage_gb: float
    currency: str = "USD"

    @classmethod
    def from_settings(cls, settings: Settings) -> Prices:
        """The prices configured in settings."""
        return cls(
            cpu_second=settings.cost_cpu_second_price,
            gpu_second=settings.cost_gpu_second_price,
            storage_gb=settings.cost_storage_gb_price,
            currency=settings.cost_currency,
        )


# Zero prices until configure_telemetry sets the configured ones: an unconfigured process
# still measures resources, it just does not invent a price for them.
_default_prices = Prices(cpu_second=0.0, gpu_second=0.0, storage_gb=0.0)


def set_default_prices(prices: Prices) -> None:
    """The prices :func:`track` uses when none are given (set at start-up)."""
    global _default_prices
    _default_prices = prices


def default_prices() -> Prices:
    """The prices set at start-up."""
    return _default_prices


def price(components: Mapping[str, Any], prices: Prices) -> dict[str, Any]:
    """The cost dict for raw components: the components plus each part's cost and the total."""
    cpu = float(components.get("cpu_seconds", 0.0))
    gpu = float(components.get("gpu_seconds", 0.0))
    stored = int(components.get("stored_bytes", 0))
    cpu_cost = cpu * prices.cpu_second
    gpu_cost = gpu * prices.gpu_second
    storage_cost = stored / BYTES_PER_GB * prices.storage_gb
    return {
        "cpu_seconds": cpu,
        "gpu_seconds": gpu,
        "stored_bytes": stored,
        "cpu_cost": cpu_cost,
        "gpu_cost": gpu_cost,
        "storage_cost": storage_cost,
        "total": cpu_cost + gpu_cost + storage_cost,
        "currency": prices.currency,
    }


def merge(job_cost: Mapping[str, Any], stage_cost: Mapping[str, Any], prices: Prices) -> dict[str, Any]:
    """``Job.cost`` after adding one stage run's cost (components summed, costs re-priced)."""
    summed = {key: job_cost.get(key, 0) + stage_cost.get(key, 0) for key in COMPONENTS}
    return price(summed, prices)


class Charged(Protocol):
    """What CPU time can be charged to: a stage's meter or one of its models'."""

    def add_cpu_seconds(self, seconds: float) -> None: ...


class CostMeter:
    """Resources used by one stage run."""

    def __init__(self, prices: Prices) -> None:
        self.prices = prices
        self.cpu_seconds = 0.0
        self.gpu_seconds = 0.0
        self.stored_bytes = 0
        self._lock = threading.Lock()
        # The models the run used, by "name:version", in order of first use.
        self._models: dict[str, ModelMeter] = {}

    def add_cpu_seconds(self, seconds: float) -> None:
        """CPU time attributed to this run."""
        with self._lock:
            self.cpu_seconds += seconds

    def add_shared_cpu_seconds(self, seconds: float) -> None:
        """This run's share of CPU time nobody was charged for by a thread clock: its models
        in flight, if any, share it (it was spent while they worked)."""
        with self._lock:
            self.cpu_seconds += seconds
            busy = [model for model in self._models.values() if model.in_flight]
            for model in busy:
                model.usage.cpu_seconds += seconds / len(busy)

    def model(self, key: str, *, task: str, unit: str) -> ModelMeter:
        """The meter of model ``key`` ("name:version") in this run (made on first use)."""
        with self._lock:
            found = self._models.get(key)
            if found is None:
                found = self._models[key] = ModelMeter(self, ModelUsage(key, task, unit))
            return found

    def keep(self, model: str, *, total: float, weight: float) -> None:
        """Outputs of ``model`` the run keeps: their confidences' ``total`` and how many (or how
        much) they are, which sets the model's estimated quality. A model that did not run in
        this run (its outputs came from a cache) has no record to put it in."""
        with self._lock:
            found = self._models.get(model)
            if found is not None:
                found.usage.confidence_sum += total
                found.usage.confidence_weight += weight

    def model_usage(self) -> list[ModelUsage]:
        """What each model used in this run (settle first, as for the cost)."""
        with self._lock:
            return [replace(model.usage) for model in self._models.values()]

    def add_gpu_seconds(self, seconds: float) -> None:
        """GPU time a model call of this run used."""
        with self._lock:
            self.gpu_seconds += seconds

    def add_stored_bytes(self, size: int) -> None:
        """Bytes this run wrote to the blob store."""
        with self._lock:
            self.stored_bytes += size

    def as_dict(self) -> dict[str, Any]:
        """The priced cost of this run (a ``Job.cost``-shaped dict)."""
        with self._lock:
            components = {
                "cpu_seconds": self.cpu_seconds,
                "gpu_seconds": self.gpu_seconds,
                "stored_bytes": self.stored_bytes,
            }
        return price(components, self.prices)


class ModelMeter:
    """Resources one model used within one stage run; every charge counts into the stage's
    meter too (one lock, the stage's, guards both)."""

    def __init__(self, stage: CostMeter, usage: ModelUsage) -> None:
        self.stage = stage
        self.usage = usage
        # Calls of this model now in flight for the stage (changed under the ledger's lock).
        self.in_flight = 0

    def add_cpu_seconds(self, seconds: float) -> None:
        """CPU time of this model's own call thread."""
        with self.stage._lock:
            self.usage.cpu_seconds += seconds
            self.stage.cpu_seconds += seconds

    def add_gpu_seconds(self, seconds: float) -> None:
        """GPU time of a call of this model."""
        with self.stage._lock:
            self.usage.gpu_seconds += seconds
            self.stage.gpu_seconds += seconds

    def add_call(self, inputs: float, wall_seconds: float) -> None:
        """One finished use of the model for the stage."""
        with self.stage._lock:
            self.usage.calls += 1
            self.usage.inputs += inputs
            self.usage.wall_seconds += wall_seconds


@dataclass
class _Worker:
    """A thread charged to one meter by its own CPU clock."""

    meter: Charged
    clock: int
    last: float


class _CpuLedger:
    """Attributes process CPU time to the meters active while it was spent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: list[CostMeter] = []
        self._workers: dict[int, _Worker] = {}
        self._last = time.process_time()

    def _settle(self) -> None:
        # Read the process clock first: every worker's time is part of it, so the shared
        # remainder never goes negative by more than clock granularity.
        now = time.process_time()
        spent, self._last = now - self._last, now
        for worker in self._workers.values():
            used = time.clock_gettime(worker.clock)
            worker.meter.add_cpu_seconds(used - worker.last)
            spent -= used - worker.last
            worker.last = used
        if self._active and spent > 0:
            share = spent / len(self._active)
            for meter in self._active:
                meter.add_shared_cpu_seconds(share)

    def settle(self) -> None:
        with self._lock:
            self._settle()

    def enter(self, meter: CostMeter) -> None:
        with self._lock:
            self._settle()
            self._active.append(meter)

    def exit(self, meter: CostMeter) -> None:
        with self._lock:
            self._settle()
            if meter in self._active:
                self._active.remove(meter)

    def enter_model(self, model: ModelMeter) -> None:
        with self._lock:
            self._settle()
            model.in_flight += 1

    def exit_model(self, model: ModelMeter) -> None:
        with self._lock:
            self._settle()
            model.in_flight -= 1

    def enter_thread(self, meter: Charged) -> int:
        ident = threading.get_ident()
        clock = time.pthread_getcpuclockid(ident)
        with self._lock:
            self._settle()
            self._workers[ident] = _Worker(meter, clock, time.clock_gettime(clock))
        return ident

    def exit_thread(self, ident: int) -> None:
        with self._lock:
            self._settle()
            del self._workers[ident]


_ledger = _CpuLedger()
_current: ContextVar[CostMeter | None] = ContextVar("mediakg_cost_meter", default=None)
# The model working for the stage in this context (inside a model block).
_current_model: ContextVar[ModelMeter | None] = ContextVar("mediakg_model_meter", default=None)

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def track(prices: Prices) -> Iterator[CostMeter]:
    """Measure the resources of the block (one stage run); the meter is current inside it."""
    meter = CostMeter(prices)
    token = _current.set(meter)
    _ledger.enter(meter)
    try:
        yield meter
    finally:
        settle(meter)
        _current.reset(token)


def settle(meter: CostMeter) -> None:
    """Charge ``meter`` the CPU spent up to now and stop measuring it, so its cost is final
    (idempotent; :func:`track` calls it on exit, a reader inside the block calls it first)."""
    _ledger.exit(meter)


def charged_to_stage(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` wrapped so that the thread running it is charged, by its own CPU clock, to the
    stage current where ``fn`` runs (for a stage's blocking work in a thread of its own;
    ``asyncio.to_thread`` carries the stage's context into the thread). Without a current
    stage, or where threads have no CPU clock, ``fn`` runs uncharged (the shared split)."""

    @functools.wraps(fn)
    def charged(*args: P.args, **kwargs: P.kwargs) -> R:
        with _thread_charged_to(_current.get()):
            return fn(*args, **kwargs)

    return charged


@contextlib.contextmanager
def _thread_charged_to(meter: Charged | None) -> Iterator[None]:
    if meter is None or not hasattr(time, "pthread_getcpuclockid"):
        yield
        return
    ident = _ledger.enter_thread(meter)
    try:
        yield
    finally:
        _ledger.exit_thread(ident)


def charged_call_thread() -> contextlib.AbstractContextManager[None]:
    """Charge the calling thread, by its own CPU clock, to the model working in the current
    context, else to the current stage (else nobody); the inference library's call-thread
    listener, entered on a thread that runs one caller's model call alone."""
    return _thread_charged_to(_current_model.get() or _current.get())


@contextlib.contextmanager
def model_block(use: ModelUse) -> Iterator[None]:
    """Book one use of a model (a call for the current stage, waited for in this block) to the
    model's meter in the stage's (a no-op outside a stage); the inference library's model-use
    listener."""
    meter = _current.get()
    if meter is None:
        yield
        return
    model = meter.model(f"{use.model}:{use.version}", task=use.task, unit=use.unit)
    token = _current_model.set(model)
    _ledger.enter_model(model)
    started = time.perf_counter()
    try:
        yield
    finally:
        _ledger.exit_model(model)
        model.add_call(use.inputs, time.perf_counter() - started)
        _current_model.reset(token)


def keep_outputs(model: object, confidences: Iterable[float]) -> None:
    """The current stage keeps outputs of ``model`` (a ``ModelRef`` or "name:version") with these
    confidences: their mean is the model's estimated quality in its usage record."""
    values = [float(value) for value in confidences]
    keep_weighted(model, total=sum(values), weight=len(values))


def keep_weighted(model: object, *, total: float, weight: float) -> None:
    """As :func:`keep_outputs`, for a weighted mean given as ``total`` / ``weight`` (a
    transcript's confidence is weighted by seconds of speech)."""
    meter = _current.get()
    if meter is not None and weight > 0:
        meter.keep(str(model), total=total, weight=weight)


def add_gpu_seconds(seconds: float) -> None:
    """Charge GPU time to the model working in the current context, else to the current stage
    (a no-op outside one); the inference library's GPU-time listener
    (``app.core.telemetry.setup.connect_inference``)."""
    model = _current_model.get()
    if model is not None:
        model.add_gpu_seconds(seconds)
        return
    meter = _current.get()
    if meter is not None:
        meter.add_gpu_seconds(seconds)


def add_stored_bytes(size: int) -> None:
    """Charge stored bytes to the current stage (a no-op outside one, e.g. an API upload)."""
    meter = _current.get()
    if meter is not None:
        meter.add_stored_bytes(size)


def record_item_cost(asset_kind: str, job_cost: Mapping[str, Any]) -> None:
    """Export the cost of one processed item (call once, when its job finishes)."""
    m = metrics.get_metrics()
    kind = {instruments.ASSET_KIND: asset_kind}
    currency = str(job_cost.get("currency", "USD"))
    m.histograms["mediakg.item.cost"].record(
        float(job_cost.get("total", 0.0)), {**kind, instruments.CURRENCY: currency}
    )
    m.counters["mediakg.item.cpu.time"].add(float(job_cost.get("cpu_seconds", 0.0)), kind)
    m.counters["mediakg.item.gpu.time"].add(float(job_cost.get("gpu_seconds", 0.0)), kind)
    m.counters["mediakg.item.stored.size"].add(int(job_cost.get("stored_bytes", 0)), kind)

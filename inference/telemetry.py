"""Spans and metrics of the model layer, through the OpenTelemetry API only.

The library creates its instruments with ``opentelemetry.metrics.get_meter`` and starts spans
with ``opentelemetry.trace.get_tracer``; whoever runs it configures the SDK (the service:
``app.core.telemetry``, whose instrument table lists the same instruments). Without a
configured SDK every call here is a no-op.

What the library measures that belongs to its user, who subscribes to it explicitly:
GPU-seconds of a model call (the service books them to the cost of the running stage), the
distributions of model outputs (the service's drift monitor), and which model works when, for
whom: each use of a model for one caller (:func:`model_use`, around the caller's await) and the
thread that runs one caller's call alone (:func:`on_call_thread`), so the service can book CPU
time per model. See :func:`add_gpu_time_listener`, :func:`add_output_listener`,
:func:`add_model_use_listener` and :func:`add_call_thread_listener`.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

# The service's tracer and meter name: model spans and metrics are part of its telemetry.
SCOPE = "mediakg"

# Attribute keys; the service's dashboards and alerts select on these exact labels.
MODEL = "mediakg.model.name"
MODEL_VERSION = "mediakg.model.version"
MODEL_BACKEND = "mediakg.model.backend"
FALLBACK_BACKEND = "mediakg.fallback.backend"
FALLBACK_MODEL = "mediakg.fallback.model"
FALLBACK_REASON = "mediakg.fallback.reason"
ERROR_TYPE = "error.type"

_tracer = trace.get_tracer(SCOPE)


@dataclass(frozen=True)
class InstrumentSpec:
    """What the library creates; the service's instrument table holds the same (a test checks
    it), and both are the contract with the dashboards."""

    name: str
    kind: Literal["counter", "histogram", "gauge"]
    unit: str
    description: str
    buckets: tuple[float, ...] | None = None


CALL_DURATION = InstrumentSpec(
    "mediakg.model.call.duration",
    "histogram",
    "s",
    "Duration of one model call (one batch), by model, version and backend.",
    (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BATCH_SIZE = InstrumentSpec(
    "mediakg.model.batch.size",
    "histogram",
    "{item}",
    "Items per model call.",
    (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0),
)
FALLBACKS = InstrumentSpec(
    "mediakg.model.fallbacks", "counter", "{call}", "Calls routed away from their preferred backend or model."
)
CONFIDENCE = InstrumentSpec(
    "mediakg.model.confidence",
    "histogram",
    "1",
    "Confidence of each model output (0..1).",
    tuple(round(0.05 * i, 2) for i in range(1, 21)),
)
# Unit-normalised embeddings sit at 1.0; raw ones (MobileNet pooled features) spread wide.
EMBEDDING_NORM = InstrumentSpec(
    "mediakg.model.embedding.norm",
    "histogram",
    "1",
    "L2 norm of each embedding a model produced.",
    (0.5, 0.9, 0.99, 1.01, 1.1, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0),
)


class Instruments:
    """The instruments of some specs on the meter the global MeterProvider hands out now: asked
    at each recording, because a service may switch the provider behind it (its tests make a
    fresh one each); an SDK provider returns the same meter, and so these, while nothing changed."""

    def __init__(self, *specs: InstrumentSpec) -> None:
        self._specs = specs
        self._lock = threading.Lock()
        self._meter: metrics.Meter | None = None
        self._made: dict[str, Any] = {}

    def _make(self, meter: metrics.Meter, spec: InstrumentSpec) -> Any:
        if spec.kind == "counter":
            return meter.create_counter(spec.name, spec.unit, spec.description)
        if spec.kind == "gauge":
            return meter.create_gauge(spec.name, spec.unit, spec.description)
        return meter.create_histogram(
            spec.name, spec.unit, spec.description, explicit_bucket_boundaries_advisory=spec.buckets
        )

    def _current(self) -> dict[str, Any]:
        meter = metrics.get_meter(SCOPE)
        if meter is not self._meter:
            with self._lock:
                self._made = {spec.name: self._make(meter, spec) for spec in self._specs}
                self._meter = meter
        return self._made

    def histogram(self, spec: InstrumentSpec) -> metrics.Histogram:
        """The histogram of ``spec`` on the current meter."""
        found: metrics.Histogram = self._current()[spec.name]
        return found

    def counter(self, spec: InstrumentSpec) -> metrics.Counter:
        """The counter of ``spec`` on the current meter."""
        found: metrics.Counter = self._current()[spec.name]
        return found

    def gauge(self, spec: InstrumentSpec) -> metrics._Gauge:
        """The gauge of ``spec`` on the current meter."""
        found: metrics._Gauge = self._current()[spec.name]
        return found


SPECS = (CALL_DURATION, BATCH_SIZE, FALLBACKS, CONFIDENCE, EMBEDDING_NORM)
_instruments = Instruments(*SPECS)

# What a model's inputs are counted in: seconds of audio, or images, texts or faces.
InputUnit = Literal["audio_seconds", "images", "texts", "faces"]


@dataclass(frozen=True, slots=True)
class ModelUse:
    """One use of a model for one caller: ``inputs`` (in ``unit``) given to it in one request."""

    model: str
    version: str
    task: str
    inputs: float
    unit: InputUnit


GpuTimeListener = Callable[[float], object]
# (model name, model version, signal: "confidence" | "embedding_norm", values of one batch)
OutputListener = Callable[[str, str, str, Sequence[float]], object]
# Entered around one use of a model, in the caller's context.
ModelUseListener = Callable[[ModelUse], AbstractContextManager[object]]
# Entered on the thread that runs one caller's model call alone, in the caller's context.
CallThreadListener = Callable[[], AbstractContextManager[object]]

_gpu_time_listeners: list[GpuTimeListener] = []
_output_listeners: list[OutputListener] = []
_model_use_listeners: list[ModelUseListener] = []
_call_thread_listeners: list[CallThreadListener] = []

P = ParamSpec("P")
R = TypeVar("R")
L = TypeVar("L", bound=Callable[..., object])


def _subscribe(listeners: list[L], listener: L) -> Callable[[], None]:
    if listener not in listeners:
        listeners.append(listener)

    def unsubscribe() -> None:
        if listener in listeners:
            listeners.remove(listener)

    return unsubscribe


def add_gpu_time_listener(listener: GpuTimeListener) -> Callable[[], None]:
    """Call ``listener(seconds)`` after each model call that used a GPU, in the caller's
    context (so a context-bound cost meter sees it); returns the unsubscribe callable.
    Subscribing the same listener twice has no effect."""
    return _subscribe(_gpu_time_listeners, listener)


def add_output_listener(listener: OutputListener) -> Callable[[], None]:
    """Call ``listener(model, version, signal, values)`` with each batch of output confidences
    and embedding norms (drift monitoring); returns the unsubscribe callable."""
    return _subscribe(_output_listeners, listener)


def add_model_use_listener(listener: ModelUseListener) -> Callable[[], None]:
    """Enter ``listener(use)`` around each use of a model for one caller (:func:`model_use`), in
    the caller's context; returns the unsubscribe callable."""
    return _subscribe(_model_use_listeners, listener)


def add_call_thread_listener(listener: CallThreadListener) -> Callable[[], None]:
    """Enter ``listener()`` on the thread that runs one caller's model call alone, around the
    call and in the caller's context (:func:`on_call_thread`); returns the unsubscribe callable."""
    return _subscribe(_call_thread_listeners, listener)


@contextlib.contextmanager
def model_use(model: str, version: str, task: str, *, inputs: float, unit: InputUnit) -> Iterator[None]:
    """The block in which ``model`` works for the caller (one request: it may wait in a batch
    with other callers' requests); the model-use listeners are entered around it."""
    if not _model_use_listeners:
        yield
        return
    use = ModelUse(model, version, task, inputs, unit)
    with contextlib.ExitStack() as stack:
        for listener in list(_model_use_listeners):
            stack.enter_context(listener(use))
        yield


def on_call_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` with the call-thread listeners entered around it: for the work of one caller's
    model call on a thread that does nothing else meanwhile (run it in the caller's context)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with contextlib.ExitStack() as stack:
            for listener in list(_call_thread_listeners):
                stack.enter_context(listener())
            return fn(*args, **kwargs)

    return run


def error_type_of(exc: BaseException) -> str:
    """The low-cardinality ``error.type`` of an exception: its string ``code`` if it has one,
    else its class name."""
    code = getattr(exc, "code", None)
    code = getattr(code, "value", code)  # an error-code enum member
    return code if isinstance(code, str) and code else type(exc).__qualname__


@dataclass
class ModelCall:
    """A model call in progress; set ``gpu_seconds`` when the backend reports GPU time."""

    gpu_seconds: float = 0.0


@contextlib.contextmanager
def model_call(model: str, version: str, backend: str, *, batch_size: int) -> Iterator[ModelCall]:
    """A span and the latency/batch/error metrics of one model call (one batch); GPU time
    set on the yielded call goes to the GPU-time listeners."""
    call = ModelCall()
    started = time.perf_counter()
    base = {MODEL: model, MODEL_VERSION: version, MODEL_BACKEND: backend}
    attrs: dict[str, str] = dict(base)
    with _tracer.start_as_current_span(
        f"infer {model}",
        kind=SpanKind.INTERNAL if backend == "local" else SpanKind.CLIENT,
        attributes={**base, "mediakg.model.batch.size": batch_size},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield call
        except BaseException as exc:
            # Semantic conventions: error.type only on failure (absent, not empty, on success).
            attrs[ERROR_TYPE] = error_type_of(exc)
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, attrs[ERROR_TYPE]))
            span.set_attribute(ERROR_TYPE, attrs[ERROR_TYPE])
            raise
        finally:
            _instruments.histogram(CALL_DURATION).record(time.perf_counter() - started, attrs)
            _instruments.histogram(BATCH_SIZE).record(batch_size, base)
            if call.gpu_seconds > 0:
                for listener in list(_gpu_time_listeners):
                    listener(call.gpu_seconds)


def record_fallback(
    model: str, version: str, backend: str, *, to_backend: str, to_model: str, reason: str
) -> None:
    """A call for ``model``/``version`` on ``backend`` was served by ``to_model`` on ``to_backend``."""
    _instruments.counter(FALLBACKS).add(
        1,
        {
            MODEL: model,
            MODEL_VERSION: version,
            MODEL_BACKEND: backend,
            FALLBACK_BACKEND: to_backend,
            FALLBACK_MODEL: to_model,
            FALLBACK_REASON: reason,
        },
    )


def record_confidences(model: str, version: str, values: Iterable[float]) -> None:
    """Confidences (0..1) of a batch of a model's outputs."""
    _record_distribution(CONFIDENCE, "confidence", model, version, values)


def record_embedding_norms(model: str, version: str, norms: Iterable[float]) -> None:
    """L2 norms of a batch of a model's embeddings."""
    _record_distribution(EMBEDDING_NORM, "embedding_norm", model, version, norms)


def _record_distribution(
    spec: InstrumentSpec, signal: str, model: str, version: str, values: Iterable[float]
) -> None:
    batch = [float(value) for value in values]
    histogram = _instruments.histogram(spec)
    attrs = {MODEL: model, MODEL_VERSION: version}
    for value in batch:
        histogram.record(value, attrs)
    if batch:
        for listener in list(_output_listeners):
            listener(model, version, signal, batch)

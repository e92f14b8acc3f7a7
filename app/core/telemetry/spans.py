"""One-line instrumentation for the layers: each context manager opens the span, records
the metrics and (for stages) binds the log context and measures the cost.

    with telemetry.enqueue(actor, queue=q, system="redis") as carrier:
        broker.enqueue(message.copy(options={**message.options, "trace": carrier}))

    with telemetry.stage_run("probe", job_id=..., asset_id=..., asset_kind="video",
                             attempt=n, carrier=message.options.get("trace")) as run:
        ...                      # raise -> failed; run.retrying(code) before re-raising
    job.cost = cost.merge(job.cost, run.cost, cost.default_prices())

    with telemetry.model_call("minilm", "1", "triton", batch_size=len(texts)) as call:
        ...
    with telemetry.search_request("elasticsearch", mode="hybrid") as req:
        req.hits = len(result)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from app.core.telemetry import cost, metrics
from app.core.telemetry.logging import bind_log_context
from app.core.telemetry.metrics import StageRunOutcome
from app.core.telemetry.tracing import extract_context, inject_context, tracer


def error_code_of(exc: BaseException) -> str:
    """The low-cardinality error type of an exception: its ``code`` when it has a string one
    (the typed errors of the job system and the API), else its class name."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    code_value = getattr(code, "value", None)  # an error-code enum member
    if isinstance(code_value, str) and code_value:
        return code_value
    return type(exc).__qualname__


def _fail_span(span: Span, exc: BaseException, error_type: str) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, error_type))
    span.set_attribute(metrics.ERROR_TYPE, error_type)


@contextlib.contextmanager
def enqueue(actor: str, *, queue: str, system: str) -> Iterator[dict[str, str]]:
    """A PRODUCER span around one send; yields the W3C context to put in the message options,
    so the stage's span becomes a child of this one and the trace stays connected."""
    with tracer().start_as_current_span(
        f"send {queue}",
        kind=SpanKind.PRODUCER,
        attributes={
            metrics.MESSAGING_SYSTEM: system,
            metrics.MESSAGING_DESTINATION: queue,
            "messaging.operation.type": "send",
            "mediakg.actor": actor,
        },
    ):
        yield inject_context()
    metrics.record_enqueue(queue, system=system)


@dataclass
class StageRun:
    """What a stage run reports; set the outcome with the methods, read ``cost`` after."""

    stage: str
    attempt: int
    status: StageRunOutcome = StageRunOutcome.SUCCEEDED
    error_code: str | None = None
    cost: dict[str, Any] = field(default_factory=dict)
    _explicit: bool = False

    def retrying(self, error_code: str) -> None:
        """The run failed transiently and its message will be retried."""
        self.status, self.error_code, self._explicit = StageRunOutcome.RETRYING, error_code, True

    def failed(self, error_code: str) -> None:
        """The run failed for good (permanent error or last attempt)."""
        self.status, self.error_code, self._explicit = StageRunOutcome.FAILED, error_code, True

    def skipped(self) -> None:
        """The stage does not apply to this asset."""
        self.status, self._explicit = StageRunOutcome.SKIPPED, True

    def cancelled(self) -> None:
        """The job was cancelled during the run."""
        self.status, self._explicit = StageRunOutcome.CANCELLED, True


@contextlib.contextmanager
def stage_run(
    stage: str,
    *,
    job_id: object,
    asset_id: object,
    asset_kind: str | None = None,
    attempt: int = 1,
    carrier: Mapping[str, str] | None = None,
    prices: cost.Prices | None = None,
    open_span: bool = True,
) -> Iterator[StageRun]:
    """One stage run: a CONSUMER span in the trace of ``carrier`` (the enqueuing request's),
    job/asset ids on every log record, CPU/GPU/storage cost, and the stage metrics on exit.
    An exception that escapes marks the run failed unless ``run.retrying()`` was called.
    ``open_span=False`` when the caller already opened the stage's span."""
    run = StageRun(stage=stage, attempt=attempt)
    started = time.perf_counter()
    span_cm: contextlib.AbstractContextManager[Span | None]
    if open_span:
        span_cm = tracer().start_as_current_span(
            f"stage {stage}",
            context=extract_context(carrier) if carrier else None,
            kind=SpanKind.CONSUMER,
            attributes={
                metrics.STAGE: stage,
                "mediakg.job.id": str(job_id),
                "mediakg.asset.id": str(asset_id),
                metrics.ASSET_KIND: asset_kind or "",
                "mediakg.stage.attempt": attempt,
            },
            record_exception=False,  # recorded below, with the error code
            set_status_on_exception=False,
        )
    else:
        span_cm = contextlib.nullcontext(None)
    with (
        span_cm as span,
        bind_log_context(job_id=job_id, asset_id=asset_id, stage=stage),
        cost.track(prices or cost.default_prices()) as meter,
    ):
        try:
            yield run
        except BaseException as exc:
            if not run._explicit:
                run.failed(error_code_of(exc))
            if span is not None:
                _fail_span(span, exc, run.error_code or error_code_of(exc))
            raise
        finally:
            # Settle first: CPU is charged in intervals that end when a stage enters or
            # leaves, and this run's last interval ends now (read before, a stage running
            # alone would show none of its CPU).
            cost.settle(meter)
            run.cost = meter.as_dict()
            if span is not None:
                span.set_attribute(metrics.STAGE_STATUS, run.status.value)
                span.set_attribute("mediakg.cost.total", run.cost["total"])
            metrics.record_stage(
                stage,
                status=run.status,
                duration_s=time.perf_counter() - started,
                attempt=attempt,
                error_code=run.error_code,
            )


@dataclass
class ModelCall:
    """A model call in progress; set ``gpu_seconds`` when the backend reports GPU time."""

    gpu_seconds: float = 0.0


@contextlib.contextmanager
def model_call(model: str, version: str, backend: str, *, batch_size: int) -> Iterator[ModelCall]:
    """A span and the latency/batch/error metrics of one model call (one batch)."""
    call = ModelCall()
    started = time.perf_counter()
    error_type: str | None = None
    kind = SpanKind.INTERNAL if backend == "local" else SpanKind.CLIENT
    with tracer().start_as_current_span(
        f"infer {model}",
        kind=kind,
        attributes={
            metrics.MODEL: model,
            metrics.MODEL_VERSION: version,
            metrics.MODEL_BACKEND: backend,
            "mediakg.model.batch.size": batch_size,
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield call
        except BaseException as exc:
            error_type = error_code_of(exc)
            _fail_span(span, exc, error_type)
            raise
        finally:
            metrics.record_model_call(
                model,
                version,
                backend,
                batch_size=batch_size,
                duration_s=time.perf_counter() - started,
                error_type=error_type,
                gpu_seconds=call.gpu_seconds,
            )


@dataclass
class SearchRequest:
    """A search in progress; set ``hits`` before the block ends."""

    hits: int = 0


@contextlib.contextmanager
def search_request(backend: str, *, mode: str = "hybrid") -> Iterator[SearchRequest]:
    """A span and the latency/hits metrics of one search request (no query text recorded)."""
    req = SearchRequest()
    started = time.perf_counter()
    error_type: str | None = None
    with tracer().start_as_current_span(
        f"search {backend}",
        kind=SpanKind.CLIENT if backend != "embedded" else SpanKind.INTERNAL,
        attributes={metrics.SEARCH_BACKEND: backend, "mediakg.search.mode": mode},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield req
        except BaseException as exc:
            error_type = error_code_of(exc)
            _fail_span(span, exc, error_type)
            raise
        finally:
            span.set_attribute("mediakg.search.hits", req.hits)
            metrics.record_search(
                backend, duration_s=time.perf_counter() - started, hits=req.hits, error_type=error_type
            )


def current_span() -> Span:
    """The active span (to add attributes from anywhere)."""
    return trace.get_current_span()

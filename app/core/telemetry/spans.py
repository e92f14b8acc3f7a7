"""One-line instrumentation for the layers: each context manager opens the span, records
the metrics and (for stages) binds the log context and measures the cost.

    with telemetry.enqueue(actor, queue=q, system="redis") as carrier:
        broker.enqueue(message.copy(options={**message.options, "trace": carrier}))

    with telemetry.stage_run("probe", job_id=..., asset_id=..., asset_kind="video",
                             attempt=n, carrier=message.options.get("trace")) as run:
        ...                      # raise -> failed; run.retrying(code) before re-raising
    job.cost = cost.merge(job.cost, run.cost, cost.default_prices())
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from app.core.telemetry import cost, instruments, metrics
from app.core.telemetry.logging import bind_log_context
from app.core.telemetry.metrics import StageRunOutcome
from app.core.telemetry.model_usage import ModelUsage
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
    span.set_attribute(instruments.ERROR_TYPE, error_type)


@contextlib.contextmanager
def enqueue(actor: str, *, queue: str, system: str) -> Iterator[dict[str, str]]:
    """A PRODUCER span around one send; yields the W3C context to put in the message options,
    so the stage's span becomes a child of this one and the trace stays connected."""
    with tracer().start_as_current_span(
        f"send {queue}",
        kind=SpanKind.PRODUCER,
        attributes={
            instruments.MESSAGING_SYSTEM: system,
            instruments.MESSAGING_DESTINATION: queue,
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
    # What each model used in the run (read after the run, like ``cost``).
    models: list[ModelUsage] = field(default_factory=list)
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


def _stage_span(
    stage: str,
    job_id: object,
    asset_id: object,
    asset_kind: str,
    attempt: int,
    carrier: Mapping[str, str] | None,
) -> contextlib.AbstractContextManager[Span]:
    return tracer().start_as_current_span(
        f"stage {stage}",
        context=extract_context(carrier) if carrier else None,
        kind=SpanKind.CONSUMER,
        attributes={
            instruments.STAGE: stage,
            "mediakg.job.id": str(job_id),
            "mediakg.asset.id": str(asset_id),
            instruments.ASSET_KIND: asset_kind,
            "mediakg.stage.attempt": attempt,
        },
        record_exception=False,  # stage_run records it, with the error code
        set_status_on_exception=False,
    )


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
    span_cm: contextlib.AbstractContextManager[Span | None] = contextlib.nullcontext(None)
    if open_span:
        span_cm = _stage_span(stage, job_id, asset_id, asset_kind or "", attempt, carrier)
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
            run.models = meter.model_usage()
            if span is not None:
                span.set_attribute(instruments.STAGE_STATUS, run.status.value)
                span.set_attribute("mediakg.cost.total", run.cost["total"])
            metrics.record_stage(
                stage,
                status=run.status,
                duration_s=time.perf_counter() - started,
                attempt=attempt,
                error_code=run.error_code,
            )

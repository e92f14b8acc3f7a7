"""The runner of one worker process: takes a stage message through claim, run and outcome."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import dramatiq
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from app.core.container import Enqueuer, Services
from app.core.events import asset_channel, job_channel
from app.core.telemetry import bind_log_context, error_code_of, record_item_cost, stage_run
from app.core.telemetry.model_usage import ModelUsage
from app.jobs.errors import STAGE_TIME_LIMIT, PermanentStageError
from app.jobs.events import TERMINAL_EVENTS
from app.jobs.progress import clamp_fraction
from jobs.registry import (
    JobCancelled,
    LeaseLost,
    StageContext,
    StageInterrupted,
    StageOutput,
    StageRegistry,
    StageSpec,
    WorkerShuttingDown,
)
from jobs.runner import outcomes
from jobs.runner.claim import claim_stage
from jobs.runner.leases import ActiveStage, Claim, keep_lease, release, stop_keeping
from jobs.runner.policy import RetryPolicy, failure_of

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# Progress is written and published at most this often per stage (plus the final 1.0):
# enough for a smooth progress bar, without a database write per processed frame.
PROGRESS_MIN_INTERVAL_S = 0.5


class StageRunner:
    """Runs stage messages for one worker process (all on one event loop)."""

    def __init__(
        self, services: Services, registry: StageRegistry, *, enqueuer: Enqueuer, worker_id: str
    ) -> None:
        self.services = services
        self.registry = registry
        self.enqueuer = enqueuer
        self.worker_id = worker_id
        self.settings = services.settings
        self.policy = RetryPolicy(registry, services.settings)
        self._active: dict[str, ActiveStage] = {}

    @property
    def lease(self) -> timedelta:
        """How long a claim or heartbeat holds a stage."""
        return timedelta(seconds=self.settings.stage_lease_seconds)

    @property
    def heartbeat_s(self) -> float:
        """How often a running stage renews its lease: the setting, but at least three beats
        per lease, so one missed beat (a database blip, a busy loop) does not lose it."""
        return max(0.1, min(self.settings.stage_heartbeat_seconds, self.settings.stage_lease_seconds / 3))

    def release_all(self) -> None:
        """Interrupt every running stage so it is released for another worker (shutdown)."""
        for active in list(self._active.values()):
            active.interrupt(WorkerShuttingDown())

    def max_retries_for(self, stage: str) -> int:
        """Retries allowed for ``stage`` (its registration, else the settings)."""
        return self.policy.max_retries_for(stage)

    async def run(
        self, *, job_id: str, stage: str, retries: int, max_retries: int, trace_context: dict[str, str]
    ) -> None:
        """Handle one delivery of a stage message (see the package docstring)."""
        parent = propagate.extract(trace_context or {})
        with (
            tracer.start_as_current_span(
                f"stage {stage}",
                context=parent,
                kind=SpanKind.CONSUMER,
                attributes={"mediakg.job_id": job_id, "mediakg.stage": stage, "mediakg.retries": retries},
            ) as span,
            bind_log_context(job_id=job_id, stage=stage),
        ):
            try:
                jid = uuid.UUID(job_id)
            except ValueError:
                log.error("stage message with a malformed job id %r dropped", job_id)
                return
            try:
                claim = await self.claim(jid, stage)
            except PermanentStageError as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                raise
            if claim is None:
                return
            span.set_attribute("mediakg.attempt", claim.stage.attempts)
            try:
                await self._execute(claim, retries=retries, max_retries=max_retries)
            except dramatiq.Retry:
                span.set_status(Status(StatusCode.ERROR, "retrying"))
                raise
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                raise

    async def claim(self, job_id: uuid.UUID, name: str) -> Claim | None:
        """Take the stage's lease, or None when this message has nothing to run.

        Raises PermanentStageError(STAGE_CRASHED), after committing the failure, when the
        stage's last run vanished and its attempts are used up: Dramatiq dead-letters it.
        """
        outcome = await claim_stage(
            self.services.session_factory,
            job_id=job_id,
            name=name,
            worker_id=self.worker_id,
            lease=self.lease,
            policy=self.policy,
        )
        await self._publish(outcome.events)
        if outcome.crashed is not None:
            raise outcome.crashed
        return outcome.claim

    # --- run ---------------------------------------------------------------------------

    async def _execute(self, claim: Claim, *, retries: int, max_retries: int) -> None:
        try:
            spec = self.registry.get(claim.stage.name)
        except PermanentStageError as exc:
            await self._fail(claim, exc.code, exc.message, started=time.monotonic())
            raise
        active = ActiveStage(claim=claim)
        self._active[claim.owner] = active
        started = time.monotonic()
        heartbeat = asyncio.create_task(
            keep_lease(
                self.services.session_factory,
                active,
                lease=self.lease,
                interval_s=self.heartbeat_s,
            ),
            name=f"lease {claim.owner}",
        )
        try:
            output = await self._measured(spec, active, retrying=retries < max_retries)
            await self._complete(active, output, started=started)
        except StageInterrupted as exc:
            await self._interrupted(active, exc)
        except PermanentStageError as exc:
            await self._fail(
                claim,
                exc.code,
                exc.message,
                started=started,
                stage_cost=_cost_of(active),
                model_usage=_usage_of(active),
            )
            raise
        except asyncio.CancelledError:
            # This coroutine itself was cancelled (Dramatiq's time-limit backstop or the loop
            # stopping): hand the stage back rather than leave it to lease expiry.
            await asyncio.shield(release(self.services.session_factory, self.enqueuer, claim))
            raise
        except Exception as exc:
            await self._transient(
                claim,
                exc,
                retries=retries,
                max_retries=max_retries,
                started=started,
                stage_cost=_cost_of(active),
                model_usage=_usage_of(active),
            )
        finally:
            self._active.pop(claim.owner, None)
            await stop_keeping(active, heartbeat)

    async def _measured(self, spec: StageSpec, active: ActiveStage, *, retrying: bool) -> StageOutput:
        """The stage function under telemetry: duration, outcome and attempts by stage, the
        asset on every log record, and its CPU/GPU/storage cost (``active.run.cost``).

        Only the function is measured, not the claim and completion transactions, so the cost
        is known before the completion writes it into the job in the same transaction."""
        claim = active.claim
        with stage_run(
            claim.stage.name,
            job_id=claim.job.id,
            asset_id=claim.asset.id,
            asset_kind=claim.asset.kind.value,
            attempt=claim.stage.attempts,
            open_span=False,  # run() opened the stage's span, in the trace of the message
        ) as run:
            active.run = run
            try:
                return await self._run_stage(spec, active)
            except JobCancelled:
                run.cancelled()
                raise
            except StageInterrupted as exc:
                # Released or taken over: the stage runs again, here or elsewhere.
                run.retrying(exc.reason)
                raise
            except asyncio.CancelledError:
                run.retrying("released")
                raise
            except PermanentStageError:
                raise  # failed, with the error's code (stage_run's default)
            except Exception as exc:
                if retrying:
                    run.retrying(error_code_of(exc))
                raise

    async def _run_stage(self, spec: StageSpec, active: ActiveStage) -> StageOutput:
        claim = active.claim
        ctx = StageContext(
            services=self.services,
            settings=self.settings,
            session_factory=self.services.session_factory,
            blobs=self.services.blobs,
            job=claim.job,
            asset=claim.asset,
            stage=claim.stage.name,
            attempt=claim.stage.attempts,
            report_progress=lambda fraction: self._report_progress(active, fraction),
            cancelled=active.cancelled,
        )
        limit = spec.time_limit_s or self.settings.stage_time_limit_seconds
        active.task = asyncio.create_task(spec.run(ctx), name=f"stage {claim.stage.name} {claim.owner}")
        if active.abort is not None:  # interrupted before the task existed
            active.task.cancel()
        try:
            async with asyncio.timeout(limit) as deadline:
                return await active.task
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if active.abort is not None and (task is None or task.cancelling() == 0):
                raise active.abort from None
            raise
        except TimeoutError:
            if deadline.expired():
                raise PermanentStageError(
                    STAGE_TIME_LIMIT,
                    f"the {claim.stage.name} stage ran longer than its limit of {limit:g} s; "
                    "raise the limit or retry the job",
                ) from None
            raise
        finally:
            # However the stage ended (time limit, interruption, error, success), a thread it
            # left running works for nobody now: tell it to stop.
            active.cancelled.set()

    async def _report_progress(self, active: ActiveStage, fraction: float) -> None:
        if active.abort is not None:
            raise active.abort
        fraction = clamp_fraction(fraction)
        now = time.monotonic()
        if fraction < 1.0 and now - active.last_report < PROGRESS_MIN_INTERVAL_S:
            return
        active.last_report = now
        active.last_fraction = fraction
        event, stop = await outcomes.record_progress(self.services.session_factory, active.claim, fraction)
        if stop is not None:
            if asyncio.current_task() is not active.task:
                # Reported from a run_sync thread (ctx.progress_from_thread): stop the stage
                # and its threads now rather than at the next heartbeat.
                active.interrupt(stop)
            raise stop
        await self._publish([event] if event is not None else [])

    # --- outcomes ----------------------------------------------------------------------

    async def _complete(self, active: ActiveStage, output: StageOutput, *, started: float) -> None:
        claim = active.claim
        events, finished_cost = await outcomes.record_success(
            self.services,
            self.enqueuer,
            claim,
            output,
            started=started,
            stage_cost=_cost_of(active),
            model_usage=_usage_of(active),
        )
        log.info("stage %s of job %s succeeded", claim.stage.name, claim.job.id)
        if finished_cost is not None:
            # After commit, once per job: the transaction that finished the job has every
            # stage's cost (each stage adds its own in its completion transaction).
            record_item_cost(claim.asset.kind.value, finished_cost)
        await self._publish(events)

    async def _fail(
        self,
        claim: Claim,
        code: str,
        message: str,
        *,
        started: float,
        stage_cost: Mapping[str, Any] | None = None,
        model_usage: Sequence[ModelUsage] = (),
    ) -> None:
        events = await outcomes.record_failure(
            self.services.session_factory,
            claim,
            code,
            message,
            started=started,
            stage_cost=stage_cost,
            model_usage=model_usage,
            enqueuer=self.enqueuer,
        )
        await self._publish(events)

    async def _transient(
        self,
        claim: Claim,
        exc: Exception,
        *,
        retries: int,
        max_retries: int,
        started: float,
        stage_cost: Mapping[str, Any] | None = None,
        model_usage: Sequence[ModelUsage] = (),
    ) -> None:
        """Queue a retry with backoff, or on the last attempt fail the stage like a permanent
        error (PermanentStageError: the message is dead-lettered, not retried)."""
        code, detail = failure_of(exc)
        if self.policy.is_last_attempt(claim.stage, claim.job, retries=retries, max_retries=max_retries):
            message = f"{detail} (gave up after {claim.stage.attempts} attempts)"
            await self._fail(
                claim, code, message, started=started, stage_cost=stage_cost, model_usage=model_usage
            )
            raise PermanentStageError(code, message) from exc
        delay_ms = self.policy.backoff_ms(retries)
        events = await outcomes.record_retry(
            self.services.session_factory,
            claim,
            code,
            detail,
            delay_ms=delay_ms,
            stage_cost=stage_cost,
            model_usage=model_usage,
        )
        log.warning(
            "stage %s of job %s failed transiently (attempt %d, retry in %d ms): %s",
            claim.stage.name,
            claim.job.id,
            claim.stage.attempts,
            delay_ms,
            detail,
            exc_info=exc,
        )
        await self._publish(events)
        raise dramatiq.Retry(str(exc), delay=delay_ms) from exc

    async def _interrupted(self, active: ActiveStage, reason: StageInterrupted) -> None:
        claim = active.claim
        if isinstance(reason, LeaseLost):
            log.warning("stage %s of job %s: lease lost, run discarded", claim.stage.name, claim.job.id)
            return
        if isinstance(reason, WorkerShuttingDown):
            await release(self.services.session_factory, self.enqueuer, claim, graceful=True)
            return
        await self._publish(await outcomes.record_cancellation(self.services.session_factory, claim))

    async def _publish(self, events: list[dict[str, Any]]) -> None:
        publisher = self.services.publisher
        for event in events:
            try:
                await publisher.publish(job_channel(uuid.UUID(event["job_id"])), event)
                if event["type"] in TERMINAL_EVENTS:
                    await publisher.publish(asset_channel(uuid.UUID(event["asset_id"])), event)
            except Exception:
                # Events are a live view; the Job row remains the truth a subscriber reads first.
                log.warning("publishing %s for job %s failed", event["type"], event["job_id"], exc_info=True)


def _cost_of(active: ActiveStage) -> Mapping[str, Any] | None:
    return active.run.cost if active.run is not None and active.run.cost else None


def _usage_of(active: ActiveStage) -> Sequence[ModelUsage]:
    return active.run.models if active.run is not None else ()

"""Running one stage of one job: lease, inputs, the stage function, outputs, what comes next.

Order of a run, and why:
1. *claim* (one transaction): lock the job, check the stage may run (PENDING/QUEUED, or
   RUNNING with an expired lease; upstream stages done; job active and not being
   cancelled), take the lease with a conditional UPDATE. A duplicate or redelivered
   message finds the stage running or finished and changes nothing;
2. *run* the stage function outside any transaction, under its time limit, with a lease
   heartbeat that also notices cancellation and lost leases;
3. *complete* (one transaction): mark SUCCEEDED only while still holding the lease, write
   the outputs, recompute progress, queue the stages that became runnable (sent after
   commit), finish the job when nothing is left;
4. publish the events after commit: a subscriber never hears of a change a rollback undid.

Failures: ``PermanentStageError`` fails the stage and the job, and is re-raised so Dramatiq
dead-letters the message (``throws``); other exceptions put the stage back to QUEUED and
ask Dramatiq for a retry with exponential backoff and jitter, until the last attempt,
which fails the stage like a permanent error and lets the message go to the dead letters.

Crashes: a worker that dies mid-stage never reports. The sweeper (or a redelivery) sends
the stage again with a fresh message, so Dramatiq's retry count cannot bound it; the claim
does: a stage whose last run vanished (its lease expired) and that was started
``max_retries + 1`` times (per run of the job: each ``retryJob`` grants as many again) is
failed with ``STAGE_CRASHED`` instead of being run again, and the message is dead-lettered.

Threads: interrupting a stage cancels its task, which cannot stop a thread it started with
``ctx.run_sync``; the runner sets ``ctx.cancelled`` too, and long loops in such threads stop
on it (``inference.media``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dramatiq
from dramatiq.common import compute_backoff
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import select

from app.assets.models import Asset
from app.core.container import Enqueuer, Services
from app.core.db import session_scope, utcnow
from app.core.enums import AssetStatus, JobStatus, StageStatus
from app.core.events import asset_channel, job_channel
from app.core.telemetry import bind_log_context, cost, error_code_of, record_item_cost, stage_run
from app.core.telemetry.spans import StageRun
from app.jobs import repository
from app.jobs import service as jobs
from app.jobs.errors import (
    STAGE_CRASHED,
    STAGE_TIME_LIMIT,
    TRANSIENT_ERROR,
    PermanentStageError,
    StageFailure,
)
from app.jobs.events import TERMINAL_EVENTS, EventType, job_event
from app.jobs.models import Job, JobStage
from app.jobs.pipeline import PIPELINES
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

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# Progress is written and published at most this often per stage (plus the final 1.0):
# enough for a smooth progress bar, without a database write per processed frame.
PROGRESS_MIN_INTERVAL_S = 0.5


@dataclass(slots=True)
class Claim:
    """A stage this worker holds the lease of."""

    job: Job
    asset: Asset
    stage: JobStage
    owner: str


@dataclass(slots=True)
class _Active:
    """A stage running in this process."""

    claim: Claim
    task: asyncio.Task[StageOutput] | None = None
    abort: StageInterrupted | None = None
    # The stage function's telemetry; its priced cost is set when the function returns.
    run: StageRun | None = None
    last_report: float = 0.0
    last_fraction: float = -1.0
    # The stage's ``ctx.cancelled``: stops its ``run_sync`` threads, which task.cancel() cannot.
    cancelled: threading.Event = field(default_factory=threading.Event)

    def interrupt(self, reason: StageInterrupted) -> None:
        """Stop the stage (on the event loop thread): the first reason wins."""
        if self.abort is None:
            self.abort = reason
            self.cancelled.set()
            if self.task is not None and not self.task.done():
                self.task.cancel()


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
        self._active: dict[str, _Active] = {}

    @property
    def lease(self) -> timedelta:
        """How long a claim or heartbeat holds a stage."""
        return timedelta(seconds=self.settings.stage_lease_seconds)

    def active_count(self) -> int:
        """Stages running in this process now."""
        return len(self._active)

    def release_all(self) -> None:
        """Interrupt every running stage so it is released for another worker (shutdown)."""
        for active in list(self._active.values()):
            active.interrupt(WorkerShuttingDown())

    def max_retries_for(self, stage: str) -> int:
        """Retries allowed for ``stage`` (its registration, else the settings)."""
        try:
            spec = self.registry.get(stage)
        except PermanentStageError:
            return self.settings.max_retries
        return spec.max_retries if spec.max_retries is not None else self.settings.max_retries

    def attempts_allowed(self, stage: str, job: Job) -> int:
        """Starts of ``stage`` after which a vanished run fails it (STAGE_CRASHED): one run
        plus its retries, per run of the job (``retryJob`` grants a fresh budget)."""
        return (self.max_retries_for(stage) + 1) * max(1, job.attempts)

    async def run(
        self, *, job_id: str, stage: str, retries: int, max_retries: int, trace_context: dict[str, str]
    ) -> None:
        """Handle one delivery of a stage message (see the module docstring)."""
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
                claim = await self._claim(jid, stage)
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

    # --- claim -------------------------------------------------------------------------

    async def _claim(self, job_id: uuid.UUID, name: str) -> Claim | None:
        """Take the stage's lease, or None when this message has nothing to run.

        Raises PermanentStageError(STAGE_CRASHED), after committing the failure, when the
        stage's last run vanished and its attempts are used up: Dramatiq dead-letters it.
        """
        events: list[dict[str, Any]] = []
        claim: Claim | None = None
        crashed: PermanentStageError | None = None
        async with session_scope(self.services.session_factory) as session:
            job = await repository.lock_job(session, job_id=job_id)
            if job is None:
                log.warning("stage %s of job %s: no such job; message dropped", name, job_id)
                return None
            stages = await repository.stages_of(session, job.id)
            row = next((s for s in stages if s.name == name), None)
            if row is None:
                log.warning("job %s has no stage %r; message dropped", job_id, name)
                return None
            if job.status not in repository.ACTIVE_JOB_STATUSES:
                log.info("stage %s of job %s: job is %s; message ignored", name, job_id, job.status.value)
                return None
            now = utcnow()
            if job.cancel_requested_at is not None:
                # Honoured between stages: nothing new starts. Whoever sees no live stage
                # left finishes the cancellation.
                if not any(_lease_alive(s, now) for s in stages):
                    for cancelled in jobs.mark_cancelled(job, stages):
                        events.append(job_event(EventType.STAGE_CANCELLED, job, cancelled))
                    await jobs.set_asset_status(session, job=job, status=jobs.asset_status_after_stop(job))
                    events.append(job_event(EventType.JOB_CANCELLED, job))
            elif _lease_alive(row, now):
                log.info(
                    "stage %s of job %s is running elsewhere (lease %s until %s): duplicate message ignored",
                    name,
                    job_id,
                    row.lease_owner,
                    row.lease_expires_at,
                )
                return None
            elif row.status not in (StageStatus.PENDING, StageStatus.QUEUED, StageStatus.RUNNING):
                log.info(
                    "stage %s of job %s is %s: duplicate message ignored", name, job_id, row.status.value
                )
                return None
            elif not jobs.dependencies_done(PIPELINES[job.pipeline], stages, name):
                # Sent early (a sweeper racing a completion): the completion of the last
                # upstream stage queues it again.
                log.info("stage %s of job %s waits for upstream stages; message ignored", name, job_id)
                return None
            elif _vanished(row) and row.attempts >= self.attempts_allowed(name, job):
                # A poisoned file kills its worker on every attempt: stop here, for good.
                if row.status == StageStatus.RUNNING:
                    why = repository.lease_expired_message(row.lease_owner, row.attempts)
                else:
                    why = row.error_message or repository.lease_expired_message(None, row.attempts)
                message = f"{why} (gave up after {row.attempts} attempts)"
                if not await repository.fail_unleased_stage(
                    session, stage_id=row.id, now=now, code=STAGE_CRASHED, message=message
                ):
                    log.info("stage %s of job %s was renewed by its owner; message ignored", name, job_id)
                    return None
                await session.refresh(row)
                jobs.mark_failed(job, stages, stage=name, code=STAGE_CRASHED, message=message)
                await jobs.set_asset_status(session, job=job, status=AssetStatus.FAILED)
                events.append(job_event(EventType.STAGE_FAILED, job, row))
                events.append(job_event(EventType.JOB_FAILED, job))
                crashed = PermanentStageError(STAGE_CRASHED, message)
                log.error("stage %s of job %s failed: %s: %s", name, job_id, STAGE_CRASHED, message)
            else:
                owner = f"{self.worker_id}/{uuid.uuid4().hex[:12]}"
                if not await repository.claim_stage(
                    session, stage_id=row.id, owner=owner, now=now, lease_until=now + self.lease
                ):
                    log.info("stage %s of job %s was claimed by another worker first", name, job_id)
                    return None
                await session.refresh(row)
                job.status = JobStatus.RUNNING
                job.started_at = job.started_at or now
                jobs.refresh_progress(job, stages)
                job.current_stage = name
                await jobs.set_asset_status(session, job=job, status=AssetStatus.PROCESSING)
                asset = await session.get(Asset, job.asset_id)
                if asset is None:  # the FK cascade deletes jobs with their asset
                    return None
                events.append(job_event(EventType.STAGE_STARTED, job, row))
                log.info(
                    "stage %s of job %s started (attempt %d, lease %s)", name, job_id, row.attempts, owner
                )
                claim = Claim(job=job, asset=asset, stage=row, owner=owner)
        await self._publish(events)
        if crashed is not None:
            raise crashed
        return claim

    # --- run ---------------------------------------------------------------------------

    async def _execute(self, claim: Claim, *, retries: int, max_retries: int) -> None:
        name = claim.stage.name
        try:
            spec = self.registry.get(name)
        except PermanentStageError as exc:
            await self._fail(claim, exc.code, exc.message, started=time.monotonic())
            raise
        active = _Active(claim=claim)
        self._active[claim.owner] = active
        started = time.monotonic()
        heartbeat = asyncio.create_task(self._heartbeat(active), name=f"lease {claim.owner}")
        try:
            output = await self._measured(spec, active, retrying=retries < max_retries)
            await self._complete(active, output, started=started)
        except StageInterrupted as exc:
            await self._interrupted(active, exc)
        except PermanentStageError as exc:
            await self._fail(claim, exc.code, exc.message, started=started, cost=_cost_of(active))
            raise
        except asyncio.CancelledError:
            # This coroutine itself was cancelled (Dramatiq's time-limit backstop or the loop
            # stopping): hand the stage back rather than leave it to lease expiry.
            await asyncio.shield(self._release(claim))
            raise
        except Exception as exc:
            await self._transient(
                claim, exc, retries=retries, max_retries=max_retries, started=started, cost=_cost_of(active)
            )
        finally:
            heartbeat.cancel()
            self._active.pop(claim.owner, None)

    async def _measured(self, spec: StageSpec, active: _Active, *, retrying: bool) -> StageOutput:
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

    async def _run_stage(self, spec: StageSpec, active: _Active) -> StageOutput:
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

    async def _heartbeat(self, active: _Active) -> None:
        """Extend the lease every third of its length; notice cancellation and takeovers."""
        claim = active.claim
        interval = max(0.1, min(self.settings.stage_lease_seconds / 3, 30.0))
        while True:
            await asyncio.sleep(interval)
            try:
                async with session_scope(self.services.session_factory) as session:
                    held = await repository.update_owned_stage(
                        session,
                        stage_id=claim.stage.id,
                        owner=claim.owner,
                        values={"lease_expires_at": utcnow() + self.lease},
                    )
                    cancel = await session.scalar(
                        select(Job.cancel_requested_at).where(Job.id == claim.job.id)
                    )
            except Exception:
                # A database blip: try again next beat; if the lease runs out meanwhile,
                # another worker takes over and this run's completion is discarded.
                log.warning("lease heartbeat of %s failed", claim.owner, exc_info=True)
                continue
            if not held:
                log.warning(
                    "stage %s of job %s: lease %s was taken over", claim.stage.name, claim.job.id, claim.owner
                )
                active.interrupt(LeaseLost())
                return
            if cancel is not None:
                active.interrupt(JobCancelled())
                return

    async def _report_progress(self, active: _Active, fraction: float) -> None:
        if active.abort is not None:
            raise active.abort
        fraction = clamp_fraction(fraction)
        now = time.monotonic()
        if fraction < 1.0 and now - active.last_report < PROGRESS_MIN_INTERVAL_S:
            return
        active.last_report = now
        active.last_fraction = fraction
        claim = active.claim
        stop: StageInterrupted | None = None
        async with session_scope(self.services.session_factory) as session:
            job = await repository.lock_job(session, job_id=claim.job.id)
            if job is None or not await repository.update_owned_stage(
                session, stage_id=claim.stage.id, owner=claim.owner, values={"progress": fraction}
            ):
                stop = LeaseLost()
            elif job.cancel_requested_at is not None:
                stop = JobCancelled()
            else:
                stages = await repository.stages_of(session, job.id)
                jobs.refresh_progress(job, stages)
                row = next(s for s in stages if s.id == claim.stage.id)
                event = job_event(EventType.PROGRESS, job, row)
        if stop is not None:
            if asyncio.current_task() is not active.task:
                # Reported from a run_sync thread (ctx.progress_from_thread): stop the stage
                # and its threads now rather than at the next heartbeat.
                active.interrupt(stop)
            raise stop
        await self._publish([event])

    # --- outcomes ----------------------------------------------------------------------

    async def _complete(self, active: _Active, output: StageOutput, *, started: float) -> None:
        claim = active.claim
        events: list[dict[str, Any]] = []
        finished_cost: dict[str, Any] | None = None
        async with session_scope(self.services.session_factory) as session:
            job = await repository.lock_job(session, job_id=claim.job.id)
            if job is None:
                raise LeaseLost()
            held = await repository.update_owned_stage(
                session,
                stage_id=claim.stage.id,
                owner=claim.owner,
                values={
                    "status": StageStatus.SUCCEEDED,
                    "progress": 1.0,
                    "finished_at": utcnow(),
                    "duration_s": round(time.monotonic() - started, 3),
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "error_code": None,
                    "error_message": None,
                    "model_versions": dict(output.model_versions),
                },
            )
            if not held:
                # Another worker owns the stage now; its run decides. Nothing is written.
                raise LeaseLost()
            if output.write is not None:
                await output.write(session)
            _add_cost(job, _cost_of(active))
            stages = await repository.stages_of(session, job.id)
            row = next(s for s in stages if s.id == claim.stage.id)
            if job.status in repository.ACTIVE_JOB_STATUSES:
                jobs.refresh_progress(job, stages)
                events.append(job_event(EventType.STAGE_COMPLETED, job, row))
                if jobs.finalize_if_done(job, stages):
                    await jobs.set_asset_status(session, job=job, status=AssetStatus.READY)
                    events.append(job_event(EventType.JOB_COMPLETED, job))
                    finished_cost = dict(job.cost)
                else:
                    jobs.enqueue_runnable(session, self.enqueuer, job=job, stages=stages)
                    running = [s.name for s in stages if s.status == StageStatus.RUNNING]
                    job.current_stage = running[0] if running else None
            else:
                # The job failed or was cancelled meanwhile (a parallel stage): the outputs
                # are valid and kept, but nothing new starts.
                events.append(job_event(EventType.STAGE_COMPLETED, job, row))
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
        cost: Mapping[str, Any] | None = None,
    ) -> None:
        events: list[dict[str, Any]] = []
        async with session_scope(self.services.session_factory) as session:
            job = await repository.lock_job(session, job_id=claim.job.id)
            if job is None:
                return
            held = await repository.update_owned_stage(
                session,
                stage_id=claim.stage.id,
                owner=claim.owner,
                values={
                    "status": StageStatus.FAILED,
                    "error_code": code,
                    "error_message": message,
                    "finished_at": utcnow(),
                    "duration_s": round(time.monotonic() - started, 3),
                    "lease_owner": None,
                    "lease_expires_at": None,
                },
            )
            if not held:
                log.warning(
                    "stage %s of job %s failed after its lease was lost", claim.stage.name, claim.job.id
                )
                return
            _add_cost(job, cost)  # a failed run used resources too
            stages = await repository.stages_of(session, job.id)
            row = next(s for s in stages if s.id == claim.stage.id)
            events.append(job_event(EventType.STAGE_FAILED, job, row))
            if job.status in repository.ACTIVE_JOB_STATUSES:
                jobs.mark_failed(job, stages, stage=row.name, code=code, message=message)
                await jobs.set_asset_status(session, job=job, status=AssetStatus.FAILED)
                events.append(job_event(EventType.JOB_FAILED, job))
        log.warning("stage %s of job %s failed: %s: %s", claim.stage.name, claim.job.id, code, message)
        await self._publish(events)

    async def _transient(
        self,
        claim: Claim,
        exc: Exception,
        *,
        retries: int,
        max_retries: int,
        started: float,
        cost: Mapping[str, Any] | None = None,
    ) -> None:
        code = exc.code if isinstance(exc, StageFailure) else TRANSIENT_ERROR
        detail = exc.message if isinstance(exc, StageFailure) else f"{type(exc).__name__}: {exc}"
        # The last attempt: this message's retries are used up, or the stage row's attempts
        # are (a second message of the stage, re-sent by the sweeper while the first one's
        # retry was still delayed, spent the budget with its twin). Either way the stage fails
        # and the message is dead-lettered, not retried, like a permanent failure.
        if retries >= max_retries or claim.stage.attempts >= self.attempts_allowed(
            claim.stage.name, claim.job
        ):
            message = f"{detail} (gave up after {claim.stage.attempts} attempts)"
            await self._fail(claim, code, message, started=started, cost=cost)
            raise PermanentStageError(code, message) from exc
        _, delay_ms = compute_backoff(
            retries,
            factor=max(1, self.settings.retry_min_backoff_ms),
            max_backoff=max(1, self.settings.retry_max_backoff_ms),
        )
        events: list[dict[str, Any]] = []
        async with session_scope(self.services.session_factory) as session:
            job = await repository.lock_job(session, job_id=claim.job.id)
            held = job is not None and await repository.update_owned_stage(
                session,
                stage_id=claim.stage.id,
                owner=claim.owner,
                values={
                    "status": StageStatus.QUEUED,
                    "error_code": code,
                    "error_message": detail,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    # When the retry is due: the sweeper counts a lost message from here.
                    "enqueued_at": utcnow() + timedelta(milliseconds=delay_ms),
                },
            )
            if held and job is not None:
                _add_cost(job, cost)
                stages = await repository.stages_of(session, job.id)
                row = next(s for s in stages if s.id == claim.stage.id)
                events.append(job_event(EventType.STAGE_RETRYING, job, row))
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

    async def _interrupted(self, active: _Active, reason: StageInterrupted) -> None:
        claim = active.claim
        if isinstance(reason, LeaseLost):
            log.warning("stage %s of job %s: lease lost, run discarded", claim.stage.name, claim.job.id)
            return
        if isinstance(reason, WorkerShuttingDown):
            await self._release(claim, graceful=True)
            return
        events: list[dict[str, Any]] = []
        async with session_scope(self.services.session_factory) as session:
            job = await repository.lock_job(session, job_id=claim.job.id)
            if job is None:
                return
            stages = await repository.stages_of(session, job.id)
            if job.status in repository.ACTIVE_JOB_STATUSES:
                for cancelled in jobs.mark_cancelled(job, stages):
                    events.append(job_event(EventType.STAGE_CANCELLED, job, cancelled))
                await jobs.set_asset_status(session, job=job, status=jobs.asset_status_after_stop(job))
                events.append(job_event(EventType.JOB_CANCELLED, job))
        log.info("job %s cancelled during stage %s", claim.job.id, claim.stage.name)
        await self._publish(events)

    async def _release(self, claim: Claim, *, graceful: bool = False) -> None:
        """Give the stage back: QUEUED again and re-sent, for this or another worker.

        ``graceful`` (a shutdown that gave the stage its grace): the run is handed back
        unfinished, not failed, and its start is taken off ``attempts``, so a rolling deploy
        never spends a stage's retry or crash budget. Other releases keep the count: what cut
        them short may happen again."""
        try:
            async with session_scope(self.services.session_factory) as session:
                job = await repository.lock_job(session, job_id=claim.job.id)
                if job is None:
                    return
                values: dict[str, Any] = {
                    "status": StageStatus.QUEUED,
                    "lease_owner": None,
                    "lease_expires_at": None,
                }
                if graceful:
                    values["attempts"] = max(0, claim.stage.attempts - 1)
                if claim.stage.error_code == STAGE_CRASHED:
                    # Handed back in one piece: an earlier crash is no longer its last run.
                    values.update(error_code=None, error_message=None)
                held = await repository.update_owned_stage(
                    session, stage_id=claim.stage.id, owner=claim.owner, values=values
                )
                if held:
                    row = await session.get(JobStage, claim.stage.id, populate_existing=True)
                    if row is not None:
                        jobs.send_stage(session, self.enqueuer, job=job, stage=row)
            log.info("stage %s of job %s released", claim.stage.name, claim.job.id)
        except Exception:
            # The lease then simply expires and the sweeper re-sends the stage.
            log.exception("releasing stage %s of job %s failed", claim.stage.name, claim.job.id)

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


def _cost_of(active: _Active) -> Mapping[str, Any] | None:
    return active.run.cost if active.run is not None and active.run.cost else None


def _add_cost(job: Job, stage_cost: Mapping[str, Any] | None) -> None:
    """Add one stage run's priced cost into ``Job.cost`` (the job row accumulates it: the
    stages of one job may run in different processes)."""
    if stage_cost:
        job.cost = cost.merge(job.cost or {}, stage_cost, cost.default_prices())


def _vanished(stage: JobStage) -> bool:
    """Whether the stage's last run ended without a word: its lease expired (still RUNNING,
    or re-queued by the sweeper with STAGE_CRASHED). Call after ``_lease_alive`` is false."""
    if stage.status == StageStatus.RUNNING:
        return True
    return stage.status == StageStatus.QUEUED and stage.error_code == STAGE_CRASHED


def _lease_alive(stage: JobStage, now: Any) -> bool:
    return (
        stage.status == StageStatus.RUNNING
        and stage.lease_expires_at is not None
        and stage.lease_expires_at >= now
    )

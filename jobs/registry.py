"""The stage contract: what a stage implementation receives, returns and how it is registered.

A stage implementation is an ``async def run(ctx: StageContext) -> StageOutput``:

1. it loads its inputs (``ctx.asset``, ``ctx.session_factory`` for reads, ``ctx.blobs``),
   doing CPU-heavy work off the event loop (``await ctx.run_sync(fn, ...)``): every stage
   of a worker process shares one loop, and the lease heartbeat runs on it;
2. it calls ``await ctx.report_progress(fraction)`` as it goes: that publishes progress,
   extends nothing (the heartbeat does) but raises ``StageInterrupted`` when the job was
   cancelled, the worker shuts down or the lease was lost; never catch BaseException.
   Cancelling the stage's task cannot stop a thread started by ``run_sync``: a long loop
   in such a thread checks ``ctx.cancelled`` (a ``threading.Event`` the runner sets when
   the stage is interrupted, over its time limit or finished) and stops, and reports its
   progress with the callable from ``ctx.progress_from_thread()``;
3. it returns a ``StageOutput`` whose ``write(session)`` replaces the stage's own earlier
   rows for the asset and model version (``app.media.service.replace_*``). The runner calls
   ``write`` in the transaction that marks the stage SUCCEEDED, only while it still holds
   the lease, so outputs and status commit together or not at all;
4. it raises ``PermanentStageError(code, message)`` when retrying cannot help; any other
   exception is retried with backoff.

Registration: a module that provides stages defines ``register_stages(registry)`` calling
``registry.register("scenes", run_scenes, time_limit_s=..., max_retries=...)``, and is named
in ``DEFAULT_STAGE_MODULES`` (or passed to ``mediakg worker --stage-module``). A stage name
nobody registered fails its job with ``STAGE_NOT_IMPLEMENTED``: never a silent success.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset
from app.core.blobs import BlobStore
from app.core.container import Services
from app.core.enums import JobQuality
from app.core.settings import Settings
from app.core.telemetry import cost
from app.jobs.errors import STAGE_NOT_IMPLEMENTED, PermanentStageError
from app.jobs.models import Job
from app.jobs.pipeline import StageName

P = ParamSpec("P")
R = TypeVar("R")

# Modules whose ``register_stages`` the workers call. The analysis stages add theirs here.
DEFAULT_STAGE_MODULES: tuple[str, ...] = (
    "jobs.stages.probe",
    "jobs.stages.text",
    "jobs.stages.scenes",
    "jobs.stages.transcribe",
    "jobs.stages.ocr",
    "jobs.stages.detect",
    "jobs.stages.embed",
    "jobs.stages.similarity",
    "jobs.stages.index",
)


class StageInterrupted(BaseException):
    """The stage must stop now. A BaseException, like asyncio.CancelledError, so that a
    stage's ``except Exception`` cannot swallow it."""

    reason = "interrupted"


class JobCancelled(StageInterrupted):
    """The job was cancelled while the stage ran."""

    reason = "cancelled"


class LeaseLost(StageInterrupted):
    """Another worker took the stage over (this one was presumed dead); its work is discarded."""

    reason = "lease_lost"


class WorkerShuttingDown(StageInterrupted):
    """The worker is stopping: the stage is released for another worker to run."""

    reason = "shutdown"


@dataclass(slots=True)
class StageOutput:
    """What a stage hands back to the runner."""

    # Writes the outputs inside the completion transaction (None: nothing to write).
    write: Callable[[AsyncSession], Awaitable[None]] | None = None
    # Model name -> version that produced the outputs (recorded on the JobStage row).
    model_versions: dict[str, str] = field(default_factory=dict)
    # The job to queue once this one completes (a fast pass whose unsure spans want an
    # ESCALATION on the batch queue), or None.
    follow_up: JobQuality | None = None


@dataclass(slots=True)
class StageContext:
    """Everything one run of one stage may use."""

    services: Services
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    blobs: BlobStore
    job: Job
    asset: Asset
    stage: str
    # 1 on the first run of this stage, 2 on the first retry, ...
    attempt: int
    # Raises StageInterrupted; publishes progress (throttled).
    report_progress: Callable[[float], Awaitable[None]]
    # Set when the stage must stop (cancelled, lease lost, shutdown, time limit) and once it
    # ended: blocking code in ``run_sync`` threads checks it (``inference.media`` loops do).
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def job_id(self) -> uuid.UUID:
        """The job's id."""
        return self.job.id

    async def run_sync(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run blocking ``fn`` in a thread, keeping the worker's event loop responsive; the
        thread's CPU time is charged to this stage."""
        return await asyncio.to_thread(cost.charged_to_stage(fn), *args, **kwargs)

    def kept(self, model: object, confidences: Iterable[float]) -> None:
        """The run keeps outputs of ``model`` (a ``ModelRef`` or "name:version") with these
        confidences: their mean is the model's estimated quality on the job's record."""
        cost.keep_outputs(model, confidences)

    def kept_weighted(self, model: object, *, total: float, weight: float) -> None:
        """As :meth:`kept`, for a weighted mean ``total / weight`` (a transcript's mean token
        probability, weighted by seconds of speech)."""
        cost.keep_weighted(model, total=total, weight=weight)

    def progress_from_thread(self) -> Callable[[float], None]:
        """A progress callback for blocking code in a ``run_sync`` thread (call this on the loop).

        Each call schedules ``report_progress`` on the stage's loop without waiting for it;
        while one report is in flight further calls are dropped (the runner throttles anyway).
        Interruption is not raised in the thread: the thread watches ``cancelled``.
        """
        loop = asyncio.get_running_loop()
        pending: list[concurrent.futures.Future[None]] = []

        async def report(fraction: float) -> None:
            try:
                await self.report_progress(fraction)
            except (Exception, StageInterrupted):
                # The stage's own next report (or the heartbeat) acts on it; the thread stops
                # through ``cancelled``.
                return

        def callback(fraction: float) -> None:
            if self.cancelled.is_set() or (pending and not pending[0].done()):
                return
            pending[:] = [asyncio.run_coroutine_threadsafe(report(fraction), loop)]

        return callback


StageImpl = Callable[[StageContext], Coroutine[Any, Any, StageOutput]]


@dataclass(frozen=True, slots=True)
class StageSpec:
    """A registered implementation with its run limits (None: the settings' defaults)."""

    name: str
    run: StageImpl
    time_limit_s: float | None = None
    max_retries: int | None = None


class StageRegistry:
    """Stage implementations by stage name."""

    def __init__(self) -> None:
        self._stages: dict[str, StageSpec] = {}

    def register(
        self,
        name: str,
        run: StageImpl,
        *,
        time_limit_s: float | None = None,
        max_retries: int | None = None,
        replace: bool = False,
    ) -> None:
        """Register ``run`` for stage ``name``; registering a name twice is a mistake unless ``replace``."""
        if name in self._stages and not replace:
            raise ValueError(f"stage {name!r} is already registered ({self._stages[name].run!r})")
        if name not in {s.value for s in StageName}:
            # Other pipelines may declare other names; the media pipeline's are checked so a
            # typo cannot leave a real stage unimplemented.
            if not name.startswith("x-"):
                raise ValueError(f"{name!r} is no stage of the pipeline (custom names start with 'x-')")
        self._stages[name] = StageSpec(name, run, time_limit_s, max_retries)

    def get(self, name: str) -> StageSpec:
        """The implementation of ``name``; PermanentStageError(STAGE_NOT_IMPLEMENTED) if none."""
        spec = self._stages.get(name)
        if spec is None:
            raise PermanentStageError(
                STAGE_NOT_IMPLEMENTED,
                f"no implementation of the {name!r} stage is registered in this worker "
                f"(registered: {', '.join(sorted(self._stages)) or 'none'})",
            )
        return spec

    def names(self) -> list[str]:
        """Registered stage names."""
        return sorted(self._stages)

    def max_time_limit_s(self, default: float) -> float:
        """The longest time limit of any registered stage."""
        return max([default, *(s.time_limit_s for s in self._stages.values() if s.time_limit_s)])


def build_registry(modules: Iterable[str] = DEFAULT_STAGE_MODULES) -> StageRegistry:
    """A registry filled by each module's ``register_stages(registry)``."""
    registry = StageRegistry()
    for name in modules:
        module: Any = importlib.import_module(name)
        register = getattr(module, "register_stages", None)
        if register is None:
            raise ValueError(f"stage module {name!r} has no register_stages(registry) function")
        register(registry)
    return registry

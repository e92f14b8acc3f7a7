"""Retry and give-up policy: how often a stage may run, when a failure is its last, how long
a retry waits."""

from __future__ import annotations

from dataclasses import dataclass

from dramatiq.common import compute_backoff

from app.core.settings import Settings
from app.jobs.errors import TRANSIENT_ERROR, PermanentStageError, StageFailure
from app.jobs.models import Job, JobStage
from jobs.registry import StageRegistry


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The retry budgets of the registered stages (their registration, else the settings)."""

    registry: StageRegistry
    settings: Settings

    def max_retries_for(self, stage: str) -> int:
        """Retries allowed for ``stage``."""
        try:
            spec = self.registry.get(stage)
        except PermanentStageError:
            return self.settings.max_retries
        return spec.max_retries if spec.max_retries is not None else self.settings.max_retries

    def attempts_allowed(self, stage: str, job: Job) -> int:
        """Starts of ``stage`` after which a vanished run fails it (STAGE_CRASHED): one run
        plus its retries, per run of the job (``retryJob`` grants a fresh budget)."""
        return (self.max_retries_for(stage) + 1) * max(1, job.attempts)

    def is_last_attempt(self, stage: JobStage, job: Job, *, retries: int, max_retries: int) -> bool:
        """Whether a transient failure of this run gives the stage up: this message's retries
        are used up, or the stage row's attempts are (a second message of the stage, re-sent
        by the sweeper while the first one's retry was still delayed, spent the budget with
        its twin). Either way the stage fails and the message is dead-lettered, not retried."""
        return retries >= max_retries or stage.attempts >= self.attempts_allowed(stage.name, job)

    def backoff_ms(self, retries: int) -> int:
        """How long the ``retries``-th retry waits: exponential, with jitter."""
        _, delay_ms = compute_backoff(
            retries,
            factor=max(1, self.settings.retry_min_backoff_ms),
            max_backoff=max(1, self.settings.retry_max_backoff_ms),
        )
        return int(delay_ms)


def failure_of(exc: Exception) -> tuple[str, str]:
    """(error code, message) a transient failure is recorded with."""
    if isinstance(exc, StageFailure):
        return exc.code, exc.message
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        # The message reaches API clients (Job.errorMessage): the file name would show the
        # server's directories.
        return TRANSIENT_ERROR, f"{type(exc).__name__}: {exc.strerror}"
    return TRANSIENT_ERROR, f"{type(exc).__name__}: {exc}"

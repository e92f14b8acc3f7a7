"""Mutations of jobs: cancel and retry."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.errors import (
    BackpressureErrorType,
    ForbiddenErrorType,
    InvalidStateErrorType,
    MalformedIdErrorType,
    NotFoundErrorType,
    WrongIdTypeErrorType,
    user_error,
)
from app.api.fields import mutation
from app.api.ids import decode_id
from app.api.jobs.types import JobType
from app.core.db import session_scope
from app.core.errors import DomainError
from app.jobs import service as jobs


def _remap(exc: DomainError) -> DomainError:
    # The service names the job "jobId"; in the API it is the input's "id".
    if exc.field:
        head, *rest = exc.field
        exc.field = ["input", "id" if head == "jobId" else head, *rest]
    return exc


@strawberry.input(name="CancelJobInput", description="The job to cancel.")
class CancelJobInput:
    """Arguments of cancelJob."""

    id: strawberry.ID = strawberry.field(description="The job to cancel.")


@strawberry.type(name="CancelJobSuccess", description="Cancellation is recorded.")
class CancelJobSuccess:
    """Result of a successful cancel."""

    job: JobType = strawberry.field(
        description="The job: CANCELLED at once if no stage was running, otherwise when the running "
        "stage stops (watch jobProgress)."
    )


CancelJobResult = Annotated[
    CancelJobSuccess
    | MalformedIdErrorType
    | WrongIdTypeErrorType
    | NotFoundErrorType
    | InvalidStateErrorType
    | ForbiddenErrorType,
    strawberry.union("CancelJobResult", description="The job being cancelled, or why it cannot be."),
]


@strawberry.input(name="RetryJobInput", description="The job to retry.")
class RetryJobInput:
    """Arguments of retryJob."""

    id: strawberry.ID = strawberry.field(description="The failed or cancelled job to run again.")


@strawberry.type(name="RetryJobSuccess", description="The job is queued again.")
class RetryJobSuccess:
    """Result of a successful retry."""

    job: JobType = strawberry.field(description="The job, queued again from the stage where it stopped.")


RetryJobResult = Annotated[
    RetryJobSuccess
    | MalformedIdErrorType
    | WrongIdTypeErrorType
    | NotFoundErrorType
    | InvalidStateErrorType
    | BackpressureErrorType
    | ForbiddenErrorType,
    strawberry.union("RetryJobResult", description="The job queued again, or why it was not."),
]


@strawberry.type
class JobMutations:
    """Root mutation fields of jobs."""

    @mutation(description="Cancel a queued or running job.")
    async def cancel_job(
        self, info: Info, input: Annotated[CancelJobInput, strawberry.argument(description="What to cancel.")]
    ) -> CancelJobResult:
        ctx = info.context
        try:
            job_id = decode_id(input.id, "Job", field=["id"])
            async with session_scope(ctx.session_factory) as session:
                job = await jobs.cancel_job(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    job_id=job_id,
                    actor=ctx.caller.actor,
                )
        except DomainError as exc:
            allowed = (MalformedIdErrorType, WrongIdTypeErrorType, NotFoundErrorType, InvalidStateErrorType)
            error: CancelJobResult = user_error(_remap(exc), allowed=allowed)
            return error
        return CancelJobSuccess(job=JobType.from_row(job))

    @mutation(
        description="Run a failed or cancelled job again from where it stopped; finished stages are kept."
    )
    async def retry_job(
        self, info: Info, input: Annotated[RetryJobInput, strawberry.argument(description="What to retry.")]
    ) -> RetryJobResult:
        ctx = info.context
        try:
            job_id = decode_id(input.id, "Job", field=["id"])
            async with session_scope(ctx.session_factory) as session:
                job = await jobs.retry_job(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    job_id=job_id,
                    actor=ctx.caller.actor,
                )
        except DomainError as exc:
            allowed = (
                MalformedIdErrorType,
                WrongIdTypeErrorType,
                NotFoundErrorType,
                InvalidStateErrorType,
                BackpressureErrorType,
            )
            error: RetryJobResult = user_error(_remap(exc), allowed=allowed)
            return error
        return RetryJobSuccess(job=JobType.from_row(job))

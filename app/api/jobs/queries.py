"""Root queries of jobs."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.enums import JobStatus
from app.api.fields import field
from app.api.jobs.types import JobType
from app.api.node import resolve_node
from app.api.pagination import DEFAULT_PAGE_SIZE, Connection, connection, page_of
from app.api.scalars import After, First
from app.jobs import repository as repo


@strawberry.type
class JobQueries:
    """Root fields of jobs."""

    @field(description="The job with this ID, or null if it does not exist.")
    async def job(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="A Job ID.")]
    ) -> JobType | None:
        node: JobType | None = await resolve_node(info, id, field=["id"], expected="Job")
        return node

    @field(description="The caller's jobs, newest first.")
    async def jobs(
        self,
        info: Info,
        status: Annotated[
            list[JobStatus] | None, strawberry.argument(description="Keep jobs in one of these states.")
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Connection[JobType]:
        page = page_of(info, repo.JOB_ORDER, first, after, field=[])
        async with info.context.read_session_factory() as session:
            rows = await repo.list_jobs(
                session, tenant_id=info.context.caller.tenant_id, statuses=tuple(status or ()), page=page
            )
        return connection(rows, repo.JOB_ORDER, JobType.from_row)

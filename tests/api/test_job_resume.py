"""Job.waitingToResume and JobStage.waitingToResume: a stage whose worker stopped mid-run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from app.assets.service import ingest_path
from app.core.container import Services
from app.core.db import session_scope, utcnow
from app.core.enums import JobStatus, StageStatus
from app.jobs.errors import STAGE_CRASHED
from app.jobs.models import Job, JobStage
from app.tenancy.models import Tenant
from tests.api.conftest import GraphQLClient
from tests.api.graph import gid

QUERY = """
query Resume($id: ID!) {
  node(id: $id) {
    ... on Job {
      waitingToResume
      stages(first: 3) { edges { node { name status waitingToResume } } }
    }
  }
}
"""


async def test_a_stage_whose_worker_stopped_shows_the_job_waiting_to_resume(
    gql: GraphQLClient, services: Services, tenant: Tenant, media_root: Path
) -> None:
    path = media_root / "notes.txt"
    path.write_text("Notes on the harbour.")
    async with session_scope(services.session_factory) as session:
        result = await ingest_path(session, services=services, tenant_id=tenant.id, path=path, actor="test")
    assert result.job is not None
    job_id = result.job.id

    async def stage(name: str, **values: object) -> None:
        async with session_scope(services.session_factory) as session:
            await session.execute(
                update(JobStage).where(JobStage.job_id == job_id, JobStage.name == name).values(**values)
            )
            await session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.RUNNING))

    async def shown() -> tuple[bool, list[tuple[str, str, bool]]]:
        body = await gql(QUERY, {"id": gid("Job", job_id)})
        node = body["data"]["node"]
        stages = [
            (e["node"]["name"], e["node"]["status"], e["node"]["waitingToResume"])
            for e in node["stages"]["edges"]
        ]
        return node["waitingToResume"], stages

    # Running on a worker that renews its lease: nothing waits.
    now = utcnow()
    await stage(
        "probe", status=StageStatus.RUNNING, lease_owner="w1/a", lease_expires_at=now + timedelta(minutes=1)
    )
    assert await shown() == (
        False,
        [("probe", "RUNNING", False), ("text", "PENDING", False), ("scenes", "SKIPPED", False)],
    )
    # The worker was killed: its lease ran out and nobody took the stage back yet.
    await stage("probe", lease_expires_at=now - timedelta(seconds=1))
    assert await shown() == (
        True,
        [("probe", "RUNNING", True), ("text", "PENDING", False), ("scenes", "SKIPPED", False)],
    )
    # The sweeper re-queued it as a crash: still waiting, until another worker takes it.
    await stage(
        "probe", status=StageStatus.QUEUED, lease_owner=None, lease_expires_at=None, error_code=STAGE_CRASHED
    )
    assert await shown() == (
        True,
        [("probe", "QUEUED", True), ("text", "PENDING", False), ("scenes", "SKIPPED", False)],
    )
    await stage(
        "probe",
        status=StageStatus.RUNNING,
        lease_owner="w2/b",
        lease_expires_at=utcnow() + timedelta(minutes=1),
    )
    assert await shown() == (
        False,
        [("probe", "RUNNING", False), ("text", "PENDING", False), ("scenes", "SKIPPED", False)],
    )

"""`JobStage.modelUsage`, `Job.models` and `Asset.modelUsage` (issue 16 item 4): what the stage rows
record, summed per model over a job's stages and over every job of an asset, read through one
statement per batch.

The rows are written as the runner writes them (``jobs/runner/outcomes.py``: one
``ModelUsage.as_dict()`` per model and stage); tests/jobs/stages/test_model_usage.py measures
them on real models.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.assets.models import Asset
from app.core.container import Services
from app.core.enums import AssetKind, AssetStatus, JobStatus, StageStatus
from app.core.telemetry.model_usage import ModelUsage
from app.jobs.models import Job, JobStage
from app.tenancy.models import Tenant
from tests.api.conftest import BASE_URL, GraphQLClient, Keys, operation
from tests.api.graph import T0, gid
from tests.fixtures.keys import ALL_SCOPES, auth, issue_key

TINY = "whisper-tiny.en:ct2-int8-1"
BASE = "whisper-base:ct2-int8-1"
LABELS = "mobilenet-v2-imagenet:torch-1"


def _usage(model: str, task: str, unit: str, *, calls: int, inputs: float, cpu: float, **kw: Any) -> Any:
    """A stored entry of a run that waited twice its CPU time."""
    usage = ModelUsage(
        model, task, unit, calls=calls, inputs=inputs, wall_seconds=cpu * 2, cpu_seconds=cpu, **kw
    )
    return usage.as_dict()


def _kept(mean: float, weight: float) -> dict[str, float]:
    return {"confidence_sum": mean * weight, "confidence_weight": weight}


# The first (fast) job of an asset: tiny.en with two spans escalated to base; labels in detect
# (two rows kept, mean 0.5) and embed (its outputs carry no confidence).
FIRST = {
    "transcribe": [
        _usage(TINY, "transcribe", "audio_seconds", calls=1, inputs=8.0, cpu=2.0, **_kept(0.8, 7.0)),
        _usage(BASE, "transcribe", "audio_seconds", calls=2, inputs=3.5, cpu=3.0, **_kept(0.9, 3.0)),
    ],
    "detect": [_usage(LABELS, "labels", "images", calls=1, inputs=3.0, cpu=0.5, **_kept(0.5, 2.0))],
    "embed": [_usage(LABELS, "labels", "images", calls=1, inputs=1.0, cpu=0.25)],
}
# An upgrade job of the same asset: base on everything.
SECOND = {
    "transcribe": [
        _usage(BASE, "transcribe", "audio_seconds", calls=1, inputs=8.0, cpu=4.0, **_kept(0.9, 7.0)),
    ],
}


def _job(asset: Asset, minute: int, usage: dict[str, list[dict[str, Any]]]) -> tuple[Job, list[JobStage]]:
    job = Job(
        tenant_id=asset.tenant_id,
        asset_id=asset.id,
        pipeline="media",
        status=JobStatus.SUCCEEDED,
        progress=1.0,
        attempts=1,
        created_at=T0 + timedelta(minutes=minute),
        updated_at=T0 + timedelta(minutes=minute),
    )
    names = ["probe", "scenes", "transcribe", "detect", "embed"]
    stages = [
        JobStage(
            job_id=job.id,
            tenant_id=job.tenant_id,
            name=name,
            ordinal=ordinal,
            status=StageStatus.SUCCEEDED,
            progress=1.0,
            attempts=1,
            model_usage=usage.get(name, []),
        )
        for ordinal, name in enumerate(names)
    ]
    return job, stages


async def _insert(services: Services, tenant_id: uuid.UUID, n: int) -> list[tuple[Asset, Job, Job]]:
    made = []
    async with services.session_factory() as session:
        for i in range(n):
            asset = Asset(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                kind=AssetKind.VIDEO,
                status=AssetStatus.READY,
                title=f"clip {i:02d}",
                blob_key=f"k{i}",
                content_sha256=f"{i:064x}",
                mime_type="video/mp4",
                size_bytes=1,
                created_at=T0 + timedelta(seconds=i),
            )
            session.add(asset)
            await session.flush()
            first, first_stages = _job(asset, 1, FIRST)
            second, second_stages = _job(asset, 2, SECOND)
            session.add_all([first, second])
            await session.flush()
            session.add_all([*first_stages, *second_stages])
            made.append((asset, first, second))
        await session.commit()
    return made


def _parts(model: str, task: str, stages: list[str], unit: str, **values: Any) -> dict[str, Any]:
    name, _, version = model.partition(":")
    return {"name": name, "version": version, "task": task, "stages": stages, "inputUnit": unit, **values}


async def test_the_operation_shows_each_stage_the_job_and_the_asset(
    gql: GraphQLClient, services: Services, tenant: Tenant
) -> None:
    ((_, first, _second),) = await _insert(services, tenant.id, 1)
    body = await gql(operation("ModelUsage"), {"id": gid("Job", first.id)})
    assert "errors" not in body, body
    job = body["data"]["job"]
    tiny = _parts(
        TINY, "transcribe", ["transcribe"], "AUDIO_SECONDS",
        calls=1, inputs=8.0, wallSeconds=4.0, cpuSeconds=2.0, gpuSeconds=0.0,
        meanConfidence=pytest.approx(0.8),
    )  # fmt: skip
    base_first = _parts(
        BASE, "transcribe", ["transcribe"], "AUDIO_SECONDS",
        calls=2, inputs=3.5, wallSeconds=6.0, cpuSeconds=3.0, gpuSeconds=0.0,
        meanConfidence=pytest.approx(0.9),
    )  # fmt: skip
    stages = {edge["node"]["name"]: edge["node"]["modelUsage"] for edge in job["stages"]["edges"]}
    assert stages["probe"] == []
    assert stages["transcribe"] == [tiny, base_first]
    assert stages["embed"] == [
        _parts(
            LABELS, "labels", ["embed"], "IMAGES",
            calls=1, inputs=1.0, wallSeconds=0.5, cpuSeconds=0.25, gpuSeconds=0.0, meanConfidence=None,
        )
    ]  # fmt: skip
    # The job: per model over its stages; labels ran in detect and embed, and only detect's
    # rows carried a confidence.
    labels = _parts(
        LABELS, "labels", ["detect", "embed"], "IMAGES",
        calls=2, inputs=4.0, wallSeconds=1.5, cpuSeconds=0.75, gpuSeconds=0.0,
        meanConfidence=pytest.approx(0.5),
    )  # fmt: skip
    assert job["models"] == [tiny, base_first, labels]
    # The asset: per model over both of its jobs (the upgrade's base run added to the first's).
    assert job["asset"]["modelUsage"] == [
        tiny,
        _parts(
            BASE, "transcribe", ["transcribe"], "AUDIO_SECONDS",
            calls=3, inputs=11.5, wallSeconds=14.0, cpuSeconds=7.0, gpuSeconds=0.0,
            meanConfidence=pytest.approx((0.9 * 3.0 + 0.9 * 7.0) / 10.0),
        ),
        labels,
    ]  # fmt: skip


USAGE_QUERY = """
query Usage($first: Int!) {
  assets(first: $first, orderBy: {field: CREATED_AT, direction: ASC}) {
    edges {
      node {
        modelUsage { name calls }
        jobs(first: 5) {
          edges {
            node { models { name calls } stages(first: 10) { edges { node { modelUsage { name } } } } }
          }
        }
      }
    }
  }
}
"""

# assets page + usage of all assets + jobs of all assets + usage of all jobs + stages of all jobs.
EXPECTED_STATEMENTS = 5


@pytest.mark.parametrize("n", [2, 8])
async def test_usage_costs_one_statement_per_level_however_many_assets(
    gql: GraphQLClient, services: Services, tenant: Tenant, count_sql: Any, n: int
) -> None:
    await _insert(services, tenant.id, n)
    await gql("{ __typename }")  # resolves the caller once per process, outside the count
    with count_sql() as counter:
        body = await gql(USAGE_QUERY, {"first": n})
    assert "errors" not in body, body
    nodes = [edge["node"] for edge in body["data"]["assets"]["edges"]]
    assert [node["modelUsage"] for node in nodes] == [
        [
            {"name": "whisper-tiny.en", "calls": 1},
            {"name": "whisper-base", "calls": 3},
            {"name": "mobilenet-v2-imagenet", "calls": 2},
        ]
    ] * n
    # Newest job first: the upgrade, then the first pass.
    assert [[j["node"]["models"] for j in node["jobs"]["edges"]] for node in nodes[:1]] == [
        [
            [{"name": "whisper-base", "calls": 1}],
            [
                {"name": "whisper-tiny.en", "calls": 1},
                {"name": "whisper-base", "calls": 2},
                {"name": "mobilenet-v2-imagenet", "calls": 2},
            ],
        ]
    ]
    assert counter.count == EXPECTED_STATEMENTS, "\n\n".join(counter.statements)


async def test_a_read_key_sees_the_usage_and_another_tenant_sees_nothing(
    api_app: Starlette, keys: Keys, services: Services, tenant: Tenant
) -> None:
    # The rule of the three fields (docs/security.md): the `read` scope of the job's or asset's
    # tenant, like the job itself; another tenant's key learns nothing, not even that it exists.
    ((asset, first, _),) = await _insert(services, tenant.id, 1)
    other = await issue_key(services.session_factory, tenant="other", name="intruder", scopes=ALL_SCOPES)
    document = """
    query($job: ID!, $asset: ID!) {
      job(id: $job) { models { name } stages(first: 1) { edges { node { modelUsage { name } } } } }
      asset(id: $asset) { modelUsage { name } }
    }
    """
    variables = {"job": gid("Job", first.id), "asset": gid("Asset", asset.id)}
    transport = httpx.ASGITransport(app=api_app)
    seen = {}
    for name, key in (("read", keys.read), ("other", other)):
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=auth(key)) as client:
            response = await client.post("/graphql", json={"query": document, "variables": variables})
        seen[name] = response.json()
    assert "errors" not in seen["read"], seen["read"]
    assert [m["name"] for m in seen["read"]["data"]["job"]["models"]] == [
        "whisper-tiny.en",
        "whisper-base",
        "mobilenet-v2-imagenet",
    ]
    assert len(seen["read"]["data"]["asset"]["modelUsage"]) == 3
    assert seen["other"] == {"data": {"job": None, "asset": None}}

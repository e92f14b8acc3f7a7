"""No N+1: a deep query costs the same number of SQL statements for 5 assets as for 20."""

from __future__ import annotations

import uuid
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest

from app.assets.models import Asset
from app.core.container import Services
from app.core.enums import AssetKind, AssetStatus, DetectionKind, OwnerType, SimilarityKind
from app.media.models import Detection, Scene, SimilarityEdge
from app.tenancy.models import Tenant
from tests.api.conftest import GraphQLClient
from tests.api.graph import T0

DEEP_QUERY = """
query Deep($first: Int!) {
  assets(first: $first, orderBy: {field: CREATED_AT, direction: ASC}) {
    edges {
      node {
        title
        scenes(first: 5) {
          edges { node { ordinal detections(first: 5) { edges { node { label confidence } } } } }
        }
        similarAssets(first: 5) { edges { score node { title } } }
      }
    }
  }
}
"""

# assets page + scenes of all assets + detections of all scenes + similarity edges of all
# assets + the similar assets themselves.
EXPECTED_STATEMENTS = 5


async def _insert(services: Services, tenant_id: uuid.UUID, n: int) -> None:
    common: dict[str, Any] = {"tenant_id": tenant_id, "model_name": "m", "model_version": "1"}
    assets = [
        Asset(
            tenant_id=tenant_id,
            kind=AssetKind.VIDEO,
            status=AssetStatus.READY,
            title=f"asset {i:02d}",
            blob_key=f"k{i}",
            content_sha256=f"{i:064x}",
            mime_type="video/mp4",
            size_bytes=1,
            created_at=T0 + timedelta(seconds=i),
        )
        for i in range(n)
    ]
    scenes = [
        Scene(asset_id=a.id, ordinal=j, start_s=float(j), end_s=float(j + 1), **common)
        for a in assets
        for j in range(3)
    ]
    detections = [
        Detection(
            asset_id=s.asset_id, scene_id=s.id, kind=DetectionKind.LABEL, time_s=s.start_s, label=f"l{k}",
            confidence=0.5 + k / 10, **common,
        )
        for s in scenes
        for k in range(2)
    ]  # fmt: skip
    edges = [
        SimilarityEdge(
            source_type=OwnerType.ASSET, source_id=a.id, source_asset_id=a.id, target_type=OwnerType.ASSET,
            target_id=b.id, target_asset_id=b.id, kind=SimilarityKind.VISUAL, score=0.9 - i / 100, **common,
        )
        for i, (a, b) in enumerate(pairwise(assets))
    ]  # fmt: skip
    async with services.session_factory() as session:
        session.add_all(assets)
        await session.flush()
        session.add_all(scenes)
        await session.flush()
        session.add_all([*detections, *edges])
        await session.commit()


@pytest.mark.parametrize("n", [5, 20])
async def test_deep_query_statement_count_does_not_grow_with_rows(
    gql: GraphQLClient, services: Services, tenant: Tenant, count_sql: Any, n: int
) -> None:
    await _insert(services, tenant.id, n)
    await gql("{ __typename }")  # resolves the caller once per process, outside the count
    with count_sql() as counter:
        body = await gql(DEEP_QUERY, {"first": n})
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["assets"]["edges"]]
    assert len(nodes) == n
    assert [len(a["scenes"]["edges"]) for a in nodes] == [3] * n
    assert {len(s["node"]["detections"]["edges"]) for a in nodes for s in a["scenes"]["edges"]} == {2}
    # Each asset is linked to its neighbours, the earlier link scoring higher (edges are read
    # in both directions).
    assert [[e["node"]["title"] for e in a["similarAssets"]["edges"]] for a in nodes[:2]] == [
        ["asset 01"],
        ["asset 00", "asset 02"],
    ]
    assert counter.count == EXPECTED_STATEMENTS, "\n\n".join(counter.statements)

"""The `duplicates` field through graphql/operations/Duplicates.graphql on edges inserted through
the ORM: clusters as connected components, one pair counted once across model versions,
soft deletes, tenants, filters, paging, statement counts and every error a caller can cause."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset
from app.core.container import Services
from app.core.db import session_scope
from app.core.enums import AssetKind, AssetStatus, OwnerType, SimilarityKind
from app.media.models import Scene, SimilarityEdge
from app.tenancy.models import Tenant
from app.tenancy.service import ensure_tenant
from tests.api.conftest import GraphQLClient, operation
from tests.api.graph import gid

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
# Fixed ids: clusters of equal size are ordered by their smallest asset id, so the expected
# order is known without computing it the way the code under test does.
IDS = {name: uuid.UUID(int=n) for n, name in enumerate(["a", "b", "c", "d", "e", "v1", "v2", "t1", "t2"], 1)}
ND = "imagenet-features:1+nd1"


def _asset(tenant_id: uuid.UUID, name: str, kind: AssetKind, minutes: int, **extra: Any) -> Asset:
    return Asset(
        id=IDS.get(name, uuid.uuid4()),
        tenant_id=tenant_id,
        kind=kind,
        status=AssetStatus.READY,
        title=name,
        blob_key=f"sha256/{name}",
        content_sha256=uuid.uuid4().hex * 2,
        mime_type="image/png",
        size_bytes=100,
        created_at=T0 + timedelta(minutes=minutes),
        updated_at=T0 + timedelta(minutes=minutes),
        **extra,
    )


def _edge(
    a: Asset,
    b: Asset,
    score: float,
    *,
    kind: SimilarityKind = SimilarityKind.NEAR_DUPLICATE,
    version: str = "1",
    minutes: int = 30,
) -> SimilarityEdge:
    return SimilarityEdge(
        tenant_id=a.tenant_id,
        source_type=OwnerType.ASSET,
        source_id=a.id,
        source_asset_id=a.id,
        target_type=OwnerType.ASSET,
        target_id=b.id,
        target_asset_id=b.id,
        kind=kind,
        score=score,
        model_name="nd",
        model_version=version,
        created_at=T0 + timedelta(minutes=minutes),
    )


class Rows:
    """What ``rows`` inserted: assets by name and the edges."""

    def __init__(self) -> None:
        self.assets: dict[str, Asset] = {}
        self.edges: dict[str, SimilarityEdge] = {}


@pytest.fixture
async def rows(services: Services, tenant: Tenant) -> Rows:
    factory: async_sessionmaker[AsyncSession] = services.session_factory
    r = Rows()
    image, video, text = AssetKind.IMAGE, AssetKind.VIDEO, AssetKind.TEXT
    for name, kind, minutes in [
        ("a", image, 1),
        ("b", image, 2),
        ("c", image, 3),
        ("d", image, 4),
        ("e", image, 5),
        ("v1", video, 7),  # the copy (v1) was uploaded after its original (v2)
        ("v2", video, 6),
        ("t1", text, 8),
        ("t2", text, 9),
    ]:
        r.assets[name] = _asset(tenant.id, name, kind, minutes)
    r.assets["e"].deleted_at = T0 + timedelta(hours=1)
    async with session_scope(factory) as session:
        other = await ensure_tenant(session, slug="other-tenant")
        foreign = [_asset(other.id, f"x{i}", image, i) for i in range(2)]
        session.add_all([*r.assets.values(), *foreign])
        await session.flush()
        a, b, c, d, e = (r.assets[n] for n in "abcde")
        v1, v2, t1, t2 = (r.assets[n] for n in ("v1", "v2", "t1", "t2"))
        scene_a = Scene(
            tenant_id=tenant.id,
            asset_id=a.id,
            ordinal=0,
            start_s=0,
            end_s=0,
            model_name="s",
            model_version="1",
        )
        scene_d = Scene(
            tenant_id=tenant.id,
            asset_id=d.id,
            ordinal=0,
            start_s=0,
            end_s=0,
            model_name="s",
            model_version="1",
        )
        session.add_all([scene_a, scene_d])
        await session.flush()
        visual = _edge(a, d, 0.99, kind=SimilarityKind.VISUAL)
        visual.source_type, visual.source_id = OwnerType.SCENE, scene_a.id
        visual.target_type, visual.target_id = OwnerType.SCENE, scene_d.id
        r.edges = {
            # a ~ b ~ c: one cluster although a and c were never scored against each other.
            "ab": _edge(a, b, 0.95),
            "bc": _edge(c, b, 0.88),  # stored with b as target: edges are symmetric
            # The same pair scored by an older model version: counted once, the newer one kept.
            "v_new": _edge(v2, v1, 0.986, version="2", minutes=40),
            "v_old": _edge(v1, v2, 0.93, version="1", minutes=20),
            "t": _edge(t1, t2, 0.81),
            # d's only near-duplicate is deleted: d is in no cluster.
            "de": _edge(d, e, 0.97),
            # Other kinds of links never make duplicates.
            "semantic": _edge(a, d, 0.9, kind=SimilarityKind.SEMANTIC),
            "visual": visual,
            "foreign": _edge(foreign[0], foreign[1], 0.99),
        }
        session.add_all(r.edges.values())
    return r


def _asset_json(asset: Asset) -> dict[str, Any]:
    return {
        "id": gid("Asset", asset.id),
        "title": asset.title,
        "kind": asset.kind.name,
        "createdAt": asset.created_at.isoformat(),
    }


def _pair(edge: SimilarityEdge) -> dict[str, Any]:
    return {
        "score": edge.score,
        "source": {"id": gid("Asset", edge.source_asset_id)},
        "target": {"id": gid("Asset", edge.target_asset_id)},
        "similarity": {
            "id": gid("SimilarityEdge", edge.id),
            "modelName": edge.model_name,
            "modelVersion": edge.model_version,
        },
    }


def _cursor(size: int, anchor: str) -> str:
    # The documented cursor shape (base64url JSON, no padding), written out independently.
    raw = json.dumps({"o": "duplicates", "v": [size, str(IDS[anchor])]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _error(body: dict[str, Any]) -> tuple[str, list[str] | None, str]:
    (error,) = body["errors"]
    return error["extensions"]["code"], error["extensions"].get("field"), error["message"]


async def test_clusters_are_connected_components_largest_first(gql: GraphQLClient, rows: Rows) -> None:
    body = await gql(operation("Duplicates"))
    a, b, c = (rows.assets[n] for n in "abc")
    v1, v2, t1, t2 = (rows.assets[n] for n in ("v1", "v2", "t1", "t2"))
    assert body == {
        "data": {
            "duplicates": {
                "totalCount": 3,
                "edges": [
                    {
                        "cursor": _cursor(3, "a"),
                        "node": {
                            "id": gid("DuplicateCluster", IDS["a"]),
                            "size": 3,
                            "pairCount": 2,
                            "bestScore": 0.95,
                            "worstScore": 0.88,
                            "assets": [_asset_json(a), _asset_json(b), _asset_json(c)],
                            "pairs": [_pair(rows.edges["ab"]), _pair(rows.edges["bc"])],
                        },
                    },
                    {
                        # Equal sizes: the smaller anchor (smallest asset id) first.
                        "cursor": _cursor(2, "v1"),
                        "node": {
                            "id": gid("DuplicateCluster", IDS["v1"]),
                            "size": 2,
                            "pairCount": 1,
                            "bestScore": 0.986,
                            "worstScore": 0.986,
                            # Oldest first: v2 is the original.
                            "assets": [_asset_json(v2), _asset_json(v1)],
                            "pairs": [_pair(rows.edges["v_new"])],
                        },
                    },
                    {
                        "cursor": _cursor(2, "t1"),
                        "node": {
                            "id": gid("DuplicateCluster", IDS["t1"]),
                            "size": 2,
                            "pairCount": 1,
                            "bestScore": 0.81,
                            "worstScore": 0.81,
                            "assets": [_asset_json(t1), _asset_json(t2)],
                            "pairs": [_pair(rows.edges["t"])],
                        },
                    },
                ],
                "pageInfo": {"hasNextPage": False, "endCursor": _cursor(2, "t1")},
            }
        }
    }


async def test_pages_continue_after_the_cursor(gql: GraphQLClient, rows: Rows) -> None:
    first = await gql(operation("Duplicates"), {"first": 2, "perCluster": 1})
    page1 = first["data"]["duplicates"]
    assert [e["node"]["size"] for e in page1["edges"]] == [3, 2]
    # A cluster's lists honour their own `first`.
    assert [len(e["node"]["assets"]) for e in page1["edges"]] == [1, 1]
    assert [len(e["node"]["pairs"]) for e in page1["edges"]] == [1, 1]
    assert page1["pageInfo"] == {"hasNextPage": True, "endCursor": _cursor(2, "v1")}
    second = await gql(operation("Duplicates"), {"first": 2, "after": page1["pageInfo"]["endCursor"]})
    page2 = second["data"]["duplicates"]
    assert [[a["title"] for a in e["node"]["assets"]] for e in page2["edges"]] == [["t1", "t2"]]
    assert page2["pageInfo"] == {"hasNextPage": False, "endCursor": _cursor(2, "t1")}
    assert page2["totalCount"] == 3
    empty = await gql(operation("Duplicates"), {"first": 0})
    assert empty["data"]["duplicates"]["edges"] == []
    assert empty["data"]["duplicates"]["pageInfo"] == {"hasNextPage": True, "endCursor": None}


async def test_filters_by_kind_and_score(gql: GraphQLClient, rows: Rows) -> None:
    videos = await gql(operation("Duplicates"), {"filter": {"kinds": ["VIDEO"]}})
    assert [[a["title"] for a in e["node"]["assets"]] for e in videos["data"]["duplicates"]["edges"]] == [
        ["v2", "v1"]
    ]
    # A stricter threshold drops the b~c link: the chain splits and c is alone (no cluster).
    strict = await gql(operation("Duplicates"), {"filter": {"minScore": 0.9}})
    clusters = [[a["title"] for a in e["node"]["assets"]] for e in strict["data"]["duplicates"]["edges"]]
    assert clusters == [["a", "b"], ["v2", "v1"]]


async def test_a_deleted_asset_leaves_its_clusters(
    gql: GraphQLClient, services: Services, rows: Rows
) -> None:
    async with session_scope(services.session_factory) as session:
        await session.execute(
            update(Asset).where(Asset.id == rows.assets["b"].id).values(deleted_at=T0 + timedelta(hours=2))
        )
    body = await gql(operation("Duplicates"))
    clusters = [[a["title"] for a in e["node"]["assets"]] for e in body["data"]["duplicates"]["edges"]]
    # b linked a and c; without it neither has a near-duplicate.
    assert clusters == [["v2", "v1"], ["t1", "t2"]]


async def test_two_statements_whatever_the_number_of_clusters(
    gql: GraphQLClient, rows: Rows, count_sql: Any
) -> None:
    await gql(operation("Duplicates"), {"first": 1})  # the caller is resolved once per process
    with count_sql() as counter:
        body = await gql(operation("Duplicates"))
    assert len(body["data"]["duplicates"]["edges"]) == 3
    # The tenant's near-duplicate edges, then the page's assets in one batch.
    assert counter.count == 2


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"first": 101, "perCluster": 1},
            ("PAGE_SIZE_EXCEEDED", ["first"], "`first` must be between 0 and 100, got 101"),
        ),
        ({"first": -1}, ("PAGE_SIZE_EXCEEDED", ["first"], "`first` must be between 0 and 100, got -1")),
        (
            # (first: 1 keeps the document under the complexity limit, which counts lists too.)
            {"first": 1, "perCluster": 101},
            ("PAGE_SIZE_EXCEEDED", ["assets", "first"], "`first` must be between 0 and 100, got 101"),
        ),
        (
            {"after": "bm90IGEgY3Vyc29y"},
            ("INVALID_CURSOR", ["after"], "the cursor was not issued by duplicates"),
        ),
        (
            {"filter": {"minScore": 1.5}},
            ("INVALID_INPUT", ["filter", "minScore"], "minScore must be between 0 and 1"),
        ),
    ],
)
async def test_bad_input_gets_a_typed_error(
    gql: GraphQLClient, rows: Rows, variables: dict[str, Any], expected: tuple[str, list[str], str]
) -> None:
    body = await gql(operation("Duplicates"), variables)
    assert body["data"] is None
    assert _error(body) == expected


async def test_a_cursor_of_another_connection_is_refused(gql: GraphQLClient, rows: Rows) -> None:
    assets = await gql("query { assets(first: 1) { pageInfo { endCursor } } }")
    cursor = assets["data"]["assets"]["pageInfo"]["endCursor"]
    body = await gql(operation("Duplicates"), {"after": cursor})
    assert _error(body) == ("INVALID_CURSOR", ["after"], "the cursor was not issued by duplicates")

"""`Asset.related` and `relationGraph` through graphql/operations/RelatedAssets.graphql and
RelationGraph.graphql on a known graph: every relation explains itself (reasons, scores and
evidence), distinctive on-screen text relates assets and common text does not, deleted assets,
marked duplicates and other tenants never appear, the graph is bounded by depth and limit, and
the complexity limit refuses an expensive graph document."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.assets.models import Asset, DuplicateDecision
from app.core.container import Services
from app.core.db import session_scope
from app.core.enums import AssetKind, AssetStatus, DetectionKind, DuplicateVerdict, OwnerType, SimilarityKind
from app.media.models import Detection, Scene, SimilarityEdge
from app.media.relations import terms_of
from app.people.models import FaceTrack, Person
from app.tenancy.models import Tenant
from app.tenancy.service import ensure_tenant
from tests.api.conftest import GraphQLClient, Keys, operation
from tests.api.graph import gid
from tests.fixtures.keys import auth

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
ADA = uuid.UUID(int=0xADA)
NAMES = ["v1", "v2", "v3", "v4", "img", "dup", "gone", "x1"]
IDS = {name: uuid.UUID(int=n) for n, name in enumerate(NAMES, 1)}
# On-screen text per asset: "breaking news" is on most assets (never distinctive), the code
# IDF-4471 on two.
OCR = {
    "v1": ["IDF-4471 breaking news"],
    "v2": ["breaking news weather"],
    "v3": ["IDF-4471 approved"],
    "img": ["breaking news"],
    "gone": ["IDF-4471 breaking news"],
    "x1": ["IDF-4471 breaking news"],
}
LABELS = {"v1": [("ocean liner", 0.8), ("web site", 0.5)], "v2": [("ocean liner", 0.7), ("web site", 0.6)]}
LABELS |= {"v3": [("web site", 0.5)], "img": [("web site", 0.9), ("ocean liner", 0.1)]}


class World:
    """Rows the fixture inserted."""

    def __init__(self) -> None:
        self.scenes: dict[str, Scene] = {}
        self.edges: dict[str, SimilarityEdge] = {}


def _scene(asset: Asset, ordinal: int) -> Scene:
    return Scene(
        tenant_id=asset.tenant_id,
        asset_id=asset.id,
        ordinal=ordinal,
        start_s=2.0 * ordinal,
        end_s=2.0 * ordinal + 2.0,
        model_name="shots",
        model_version="1",
    )


def _edge(kind: SimilarityKind, score: float, a: Any, b: Any) -> SimilarityEdge:
    """An edge between two assets (Asset rows) or two scenes (Scene rows)."""
    owner = OwnerType.SCENE if isinstance(a, Scene) else OwnerType.ASSET
    a_asset = a.asset_id if isinstance(a, Scene) else a.id
    b_asset = b.asset_id if isinstance(b, Scene) else b.id
    return SimilarityEdge(
        tenant_id=a.tenant_id,
        source_type=owner,
        source_id=a.id,
        source_asset_id=a_asset,
        target_type=owner,
        target_id=b.id,
        target_asset_id=b_asset,
        kind=kind,
        score=score,
        model_name="m",
        model_version="1",
    )


@pytest.fixture
async def world(services: Services, tenant: Tenant) -> World:
    w = World()
    async with session_scope(services.session_factory) as session:
        other = await ensure_tenant(session, slug="other-tenant")
        assets = {}
        for n, name in enumerate(NAMES):
            assets[name] = Asset(
                id=IDS[name],
                tenant_id=other.id if name == "x1" else tenant.id,
                kind=AssetKind.IMAGE if name == "img" else AssetKind.VIDEO,
                status=AssetStatus.READY,
                title=name,
                blob_key=f"sha256/{name}",
                content_sha256=uuid.uuid4().hex * 2,
                mime_type="video/mp4",
                size_bytes=100,
                created_at=T0 + timedelta(minutes=n),
                updated_at=T0 + timedelta(minutes=n),
                deleted_at=T0 if name == "gone" else None,
            )
        session.add_all(assets.values())
        await session.flush()
        for name in ("v1", "v2", "v4"):
            for ordinal in range(2):
                w.scenes[f"{name}.{ordinal}"] = _scene(assets[name], ordinal)
        session.add_all(w.scenes.values())
        await session.flush()
        s = w.scenes
        v1, v3, dup, gone = (assets[n] for n in ("v1", "v3", "dup", "gone"))
        w.edges = {
            "v1~v3": _edge(SimilarityKind.NEAR_DUPLICATE, 0.97, v1, v3),
            "v1~dup": _edge(SimilarityKind.NEAR_DUPLICATE, 0.99, dup, v1),
            "v1~gone": _edge(SimilarityKind.NEAR_DUPLICATE, 0.99, v1, gone),
            # v1 and v2 share two look-alike shots; the second pair scores lower.
            "v1.0~v2.1": _edge(SimilarityKind.VISUAL, 0.9, s["v1.0"], s["v2.1"]),
            "v2.0~v1.1": _edge(SimilarityKind.SEMANTIC, 0.8, s["v2.0"], s["v1.1"]),
            # v4 is related to v2 only (two steps from v1).
            "v2.0~v4.0": _edge(SimilarityKind.VISUAL, 0.85, s["v2.0"], s["v4.0"]),
        }
        session.add_all(w.edges.values())
        common = {"model_name": "det", "model_version": "1"}
        for name, texts in OCR.items():
            for text in texts:
                session.add(
                    Detection(
                        tenant_id=assets[name].tenant_id,
                        asset_id=IDS[name],
                        kind=DetectionKind.TEXT,
                        label=text,
                        confidence=0.9,
                        **common,
                    )
                )
        for name, labels in LABELS.items():
            for label, confidence in labels:
                session.add(
                    Detection(
                        tenant_id=tenant.id,
                        asset_id=IDS[name],
                        kind=DetectionKind.LABEL,
                        label=label,
                        confidence=confidence,
                        **common,
                    )
                )
        # Ada appears in v4 (twice) and in img; a hidden person in v1 and v2 relates nothing.
        ada = Person(id=ADA, tenant_id=tenant.id, name="Ada")
        hidden = Person(tenant_id=tenant.id, name="Nobody", hidden=True)
        session.add_all([ada, hidden])
        await session.flush()
        for name, person in [("v4", ada), ("v4", ada), ("img", ada), ("v1", hidden), ("v2", hidden)]:
            session.add(
                FaceTrack(
                    tenant_id=tenant.id,
                    asset_id=IDS[name],
                    person_id=person.id,
                    start_s=0.0,
                    end_s=1.0,
                    box_x=0.1,
                    box_y=0.1,
                    box_w=0.2,
                    box_h=0.2,
                    descriptor=b"\0" * 512,
                    **common,
                )
            )
        session.add(
            DuplicateDecision(
                tenant_id=tenant.id,
                low_asset_id=min(IDS["v1"], IDS["dup"]),
                high_asset_id=max(IDS["v1"], IDS["dup"]),
                verdict=DuplicateVerdict.DUPLICATE,
                kept_asset_id=IDS["v1"],
                duplicate_asset_id=IDS["dup"],
                actor="editor",
            )
        )
    return w


def _idf(count: int, df: int) -> float:
    """The weight the rule gives a term carried by ``df`` of ``count`` documents (0 for more
    than half of them, and more than two)."""
    return 0.0 if df > max(2, count / 2) else math.log((count + 1) / df)


def _cosine(mine: dict[str, float], theirs: dict[str, float]) -> float:
    dot = sum(weight**2 for term, weight in mine.items() if term in theirs)
    return dot / math.sqrt(sum(w**2 for w in mine.values()) * sum(w**2 for w in theirs.values()))


def _reason(reason: str, score: Any, **evidence: Any) -> dict[str, Any]:
    weights = {
        "SAME_PERSON": 0.9,
        "NEAR_DUPLICATE": 1.0,
        "SIMILAR_SCENE": 0.8,
        "SHARED_TEXT": 0.7,
        "SHARED_LABEL": 0.5,
    }
    return {
        "reason": reason,
        "score": score,
        "weight": weights[reason],
        "terms": evidence.get("terms", []),
        "personIds": evidence.get("personIds", []),
        "scenePairs": evidence.get("scenePairs", []),
        "similarities": evidence.get("similarities", []),
    }


def _pair(w: World, mine: str, other: str, kind: str, score: float) -> dict[str, Any]:
    scene, other_scene = w.scenes[mine], w.scenes[other]
    return {
        "kind": kind,
        "score": score,
        "scene": {"id": gid("Scene", scene.id), "startSeconds": scene.start_s},
        "otherScene": {"id": gid("Scene", other_scene.id), "startSeconds": other_scene.start_s},
    }


def test_terms_are_normalised_distinctive_words_and_phrases() -> None:
    # Full-width ABC folds to abc (NFKC).
    assert terms_of("The IDF-4471 Code: of \uff21\uff22\uff23") == {
        "idf-4471",
        "code",
        "abc",
        "idf-4471 code",
        "code abc",
    }


async def test_relations_explain_themselves(gql: GraphQLClient, world: World) -> None:
    body = await gql(operation("RelatedAssets"), {"id": gid("Asset", IDS["v1"])})
    related = body["data"]["asset"]["related"]
    # Shared text between v1 and v3, computed here from the rule: the tenant's live documents
    # with on-screen text are v1, v2, v3 and img (gone is deleted, x1 another tenant's).
    n = 4
    v1 = {"idf-4471": _idf(n, 2), "breaking": 0.0, "news": 0.0, "idf-4471 breaking": _idf(n, 1)}
    v1["breaking news"] = 0.0
    v3 = {"idf-4471": _idf(n, 2), "approved": _idf(n, 1), "idf-4471 approved": _idf(n, 1)}
    text = _cosine(v1, v3)
    # Labels (at least 0.25 sure): ocean liner on v1 and v2, web site on v1, v2, v3 and img.
    labels = {"ocean liner": _idf(4, 2), "web site": _idf(4, 4)}
    assert labels["web site"] == 0.0
    label = _cosine(labels, labels)
    assert [(e["node"]["title"], e["score"]) for e in related["edges"]] == [
        ("v3", pytest.approx(1 - (1 - 0.97) * (1 - 0.7 * text), abs=1e-6)),
        ("v2", pytest.approx(1 - (1 - 0.8 * 0.9) * (1 - 0.5 * label), abs=1e-6)),
    ]
    v3_edge, v2_edge = related["edges"]
    assert v3_edge["reasons"] == [
        _reason(
            "NEAR_DUPLICATE",
            0.97,
            similarities=[
                {
                    "id": gid("SimilarityEdge", world.edges["v1~v3"].id),
                    "kind": "NEAR_DUPLICATE",
                    "score": 0.97,
                }
            ],
        ),
        _reason("SHARED_TEXT", pytest.approx(text, abs=1e-6), terms=["idf-4471"]),
    ]
    assert v2_edge["reasons"] == [
        _reason(
            "SIMILAR_SCENE",
            0.9,
            scenePairs=[
                _pair(world, "v1.0", "v2.1", "VISUAL", 0.9),
                _pair(world, "v1.1", "v2.0", "SEMANTIC", 0.8),
            ],
        ),
        _reason("SHARED_LABEL", 1.0, terms=["ocean liner"]),
    ]
    # "breaking news" is on most assets: it relates nothing (img shares only that with v1).
    assert "img" not in {e["node"]["title"] for e in related["edges"]}


async def test_the_same_person_relates_assets(gql: GraphQLClient, world: World) -> None:
    body = await gql(operation("RelatedAssets"), {"id": gid("Asset", IDS["v4"])})
    edges = body["data"]["asset"]["related"]["edges"]
    assert [(e["node"]["title"], e["score"]) for e in edges] == [
        ("img", pytest.approx(0.9 * 0.8, abs=1e-6)),
        ("v2", pytest.approx(0.8 * 0.85, abs=1e-6)),
    ]
    assert edges[0]["reasons"] == [_reason("SAME_PERSON", 0.8, personIds=[gid("Person", ADA)])]


async def test_related_pages_continue_after_the_cursor(gql: GraphQLClient, world: World) -> None:
    first = await gql(operation("RelatedAssets"), {"id": gid("Asset", IDS["v1"]), "first": 1})
    page1 = first["data"]["asset"]["related"]
    assert [e["node"]["title"] for e in page1["edges"]] == ["v3"]
    assert page1["pageInfo"]["hasNextPage"] is True
    variables = {"id": gid("Asset", IDS["v1"]), "first": 1, "after": page1["pageInfo"]["endCursor"]}
    page2 = (await gql(operation("RelatedAssets"), variables))["data"]["asset"]["related"]
    assert [e["node"]["title"] for e in page2["edges"]] == ["v2"]
    assert page2["pageInfo"]["hasNextPage"] is False
    bad = await gql(operation("RelatedAssets"), {"id": gid("Asset", IDS["v1"]), "after": "nope"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


def _graph(body: dict[str, Any]) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
    titles = {IDS_BY_GID[n["id"]]: n["title"] for n in body["data"]["relationGraph"]["nodes"]}
    nodes = list(titles.values())
    edges = [
        (IDS_BY_GID[e["source"]], IDS_BY_GID[e["target"]], [r["reason"] for r in e["reasons"]])
        for e in body["data"]["relationGraph"]["edges"]
    ]
    return nodes, edges


IDS_BY_GID = {gid("Asset", asset_id): name for name, asset_id in IDS.items()}


async def test_the_graph_is_bounded_by_depth_and_limit(gql: GraphQLClient, world: World) -> None:
    root = gid("Asset", IDS["v1"])
    one = await gql(operation("RelationGraph"), {"assetId": root})
    assert _graph(one) == (
        ["v1", "v3", "v2"],
        [
            ("v1", "v3", ["NEAR_DUPLICATE", "SHARED_TEXT"]),
            ("v1", "v2", ["SIMILAR_SCENE", "SHARED_LABEL"]),
        ],
    )
    two = await gql(operation("RelationGraph"), {"assetId": root, "depth": 2})
    assert _graph(two) == (
        ["v1", "v3", "v2", "v4"],
        [
            ("v1", "v3", ["NEAR_DUPLICATE", "SHARED_TEXT"]),
            ("v1", "v2", ["SIMILAR_SCENE", "SHARED_LABEL"]),
            ("v2", "v4", ["SIMILAR_SCENE"]),
        ],
    )
    small = await gql(operation("RelationGraph"), {"assetId": root, "depth": 2, "limit": 2})
    assert _graph(small) == (["v1", "v3"], [("v1", "v3", ["NEAR_DUPLICATE", "SHARED_TEXT"])])


async def test_graph_arguments_are_checked(gql: GraphQLClient, world: World) -> None:
    async def code(variables: dict[str, Any]) -> tuple[str, list[str]]:
        body = await gql(operation("RelationGraph"), variables)
        (error,) = body["errors"]
        return error["extensions"]["code"], error["extensions"].get("field")

    root = gid("Asset", IDS["v1"])
    assert await code({"assetId": root, "depth": 3}) == ("INVALID_INPUT", ["depth"])
    assert await code({"assetId": root, "depth": 0}) == ("INVALID_INPUT", ["depth"])
    assert await code({"assetId": root, "limit": 0}) == ("INVALID_INPUT", ["limit"])
    assert await code({"assetId": root, "limit": 101}) == ("INVALID_INPUT", ["limit"])
    # Another tenant's asset does not exist for this caller; a deleted one neither.
    assert await code({"assetId": gid("Asset", IDS["x1"])}) == ("NOT_FOUND", ["assetId"])
    assert await code({"assetId": gid("Asset", IDS["gone"])}) == ("NOT_FOUND", ["assetId"])
    assert await code({"assetId": gid("Scene", IDS["v1"])}) == ("WRONG_ID_TYPE", ["assetId"])


async def test_the_complexity_limit_counts_the_graph_limit(gql: GraphQLClient, world: World) -> None:
    document = """query($id: ID!, $limit: Int!) { relationGraph(assetId: $id, limit: $limit) {
      nodes { id related(first: 100) { edges { node { id } } } } } }"""
    # 1 graph + 100 nodes + 100 x (1 connection + 100 edges + 100 nodes): far above 5000.
    refused = await gql(document, {"id": gid("Asset", IDS["v1"]), "limit": 100})
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["complexity"] == 1 + 100 + 100 * (1 + 100 + 100)
    allowed = await gql(document, {"id": gid("Asset", IDS["v1"]), "limit": 2})
    assert "errors" not in allowed


async def test_a_read_key_may_explore_relations(gql: GraphQLClient, keys: Keys, world: World) -> None:
    gql.http.headers.update(auth(keys.read))
    body = await gql(operation("RelationGraph"), {"assetId": gid("Asset", IDS["v1"])})
    assert [n["title"] for n in body["data"]["relationGraph"]["nodes"]] == ["v1", "v3", "v2"]

"""`resolveDuplicates` through graphql/operations/ResolveDuplicates.graphql: marked duplicates
are hidden from lists, clusters and search unless asked for; a pair declared not-duplicate is
never suggested again, also after a reprocess writes its edge anew; decisions persist, are
audited, stay inside their tenant and need the write scope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset, DuplicateDecision
from app.audit.models import AuditEvent
from app.core.container import Services
from app.core.db import session_scope
from app.core.enums import AssetKind, AssetStatus, DuplicateVerdict, OwnerType, SimilarityKind
from app.media.models import SimilarityEdge
from app.media.service import replace_asset_edges
from app.tenancy.models import Tenant
from app.tenancy.service import ensure_tenant
from tests.api.conftest import GraphQLClient, Keys, operation
from tests.api.graph import gid
from tests.fixtures.keys import auth
from tests.search.fake_es import FakeElasticsearch, backend_for

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
IDS = {name: uuid.UUID(int=n) for n, name in enumerate(["a", "b", "c", "t1", "t2", "x1", "x2"], 1)}
ND_MODEL, ND_VERSION = "nd", "1"


def _asset(tenant_id: uuid.UUID, name: str, kind: AssetKind, minutes: int) -> Asset:
    return Asset(
        id=IDS[name],
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
    )


def _edge_values(a: uuid.UUID, b: uuid.UUID, score: float) -> dict[str, Any]:
    return {
        "source_type": OwnerType.ASSET,
        "source_id": a,
        "source_asset_id": a,
        "target_type": OwnerType.ASSET,
        "target_id": b,
        "target_asset_id": b,
        "kind": SimilarityKind.NEAR_DUPLICATE,
        "score": score,
        "details": {},
    }


def _edge(tenant_id: uuid.UUID, a: str, b: str, score: float) -> SimilarityEdge:
    return SimilarityEdge(
        tenant_id=tenant_id,
        model_name=ND_MODEL,
        model_version=ND_VERSION,
        **_edge_values(IDS[a], IDS[b], score),
    )


@pytest.fixture
async def other_tenant(services: Services, tenant: Tenant) -> uuid.UUID:
    """The ids of the world: tenant A holds a ~ b ~ c (images) and t1 ~ t2 (text); another
    tenant holds x1 ~ x2."""
    factory: async_sessionmaker[AsyncSession] = services.session_factory
    async with session_scope(factory) as session:
        other = await ensure_tenant(session, slug="other-tenant")
        session.add_all(
            [
                _asset(tenant.id, "a", AssetKind.IMAGE, 1),
                _asset(tenant.id, "b", AssetKind.IMAGE, 2),
                _asset(tenant.id, "c", AssetKind.IMAGE, 3),
                _asset(tenant.id, "t1", AssetKind.TEXT, 4),
                _asset(tenant.id, "t2", AssetKind.TEXT, 5),
                _asset(other.id, "x1", AssetKind.IMAGE, 6),
                _asset(other.id, "x2", AssetKind.IMAGE, 7),
            ]
        )
        await session.flush()
        session.add_all(
            [
                _edge(tenant.id, "a", "b", 0.95),
                _edge(tenant.id, "b", "c", 0.9),
                _edge(tenant.id, "t1", "t2", 0.85),
                _edge(other.id, "x1", "x2", 0.99),
            ]
        )
        return other.id


def _resolve(cluster: str, keep: str, action: str) -> dict[str, Any]:
    return {
        "input": {
            "clusterId": gid("DuplicateCluster", IDS[cluster]),
            "keep": gid("Asset", IDS[keep]),
            "action": action,
        }
    }


async def _clusters(gql: GraphQLClient) -> list[list[str]]:
    body = await gql(operation("Duplicates"))
    return [[a["title"] for a in e["node"]["assets"]] for e in body["data"]["duplicates"]["edges"]]


async def _titles(gql: GraphQLClient, **filters: Any) -> list[str]:
    variables = {"first": 20, "filter": filters, "orderBy": {"field": "TITLE", "direction": "ASC"}}
    body = await gql(operation("AssetList"), variables)
    return [e["node"]["title"] for e in body["data"]["assets"]["edges"]]


@pytest.mark.db
async def test_marked_duplicates_are_hidden_unless_asked_for_and_audited(
    gql: GraphQLClient, services: Services, other_tenant: uuid.UUID
) -> None:
    assert await _clusters(gql) == [["a", "b", "c"], ["t1", "t2"]]
    body = await gql(operation("ResolveDuplicates"), _resolve("a", "b", "MARK_DUPLICATES"))
    assert body == {
        "data": {
            "resolveDuplicates": {
                "__typename": "ResolveDuplicatesSuccess",
                "kept": {"id": gid("Asset", IDS["b"]), "title": "b"},
                "hidden": [
                    {"id": gid("Asset", IDS["a"]), "title": "a"},
                    {"id": gid("Asset", IDS["c"]), "title": "c"},
                ],
                "pairCount": 2,
            }
        }
    }
    assert await _titles(gql) == ["b", "t1", "t2"]
    assert await _titles(gql, includeDuplicates=True) == ["a", "b", "c", "t1", "t2"]
    # The cluster is resolved: only b is left of it, a cluster of one is none.
    assert await _clusters(gql) == [["t1", "t2"]]
    async with session_scope(services.session_factory) as session:
        rows = (
            await session.scalars(select(DuplicateDecision).order_by(DuplicateDecision.low_asset_id))
        ).all()
        assert [
            (r.low_asset_id, r.high_asset_id, r.verdict, r.kept_asset_id, r.duplicate_asset_id) for r in rows
        ] == [
            (IDS["a"], IDS["b"], DuplicateVerdict.DUPLICATE, IDS["b"], IDS["a"]),
            (IDS["b"], IDS["c"], DuplicateVerdict.DUPLICATE, IDS["b"], IDS["c"]),
        ]
        assert {r.actor for r in rows} == {"test-admin"}
        events = (
            await session.execute(
                select(AuditEvent.entity_id, AuditEvent.details).where(
                    AuditEvent.action == "duplicates.resolve"
                )
            )
        ).all()
    assert sorted(entity for entity, _ in events) == [IDS["a"], IDS["b"], IDS["c"]]
    assert {(d["verdict"], d["kept"], tuple(d["hidden"])) for _, d in events} == {
        ("duplicate", str(IDS["b"]), (str(IDS["a"]), str(IDS["c"])))
    }


SIMILAR = "query($id: ID!) { asset(id: $id) { similarAssets(first: 5) { edges { node { title } } } } }"


@pytest.mark.db
async def test_a_pair_declared_not_duplicate_never_resurfaces_even_after_reprocess(
    gql: GraphQLClient, services: Services, tenant: Tenant, other_tenant: uuid.UUID
) -> None:
    similar = await gql(SIMILAR, {"id": gid("Asset", IDS["t1"])})
    assert similar["data"]["asset"]["similarAssets"]["edges"] == [{"node": {"title": "t2"}}]
    body = await gql(operation("ResolveDuplicates"), _resolve("t1", "t1", "NOT_DUPLICATES"))
    assert body["data"]["resolveDuplicates"] == {
        "__typename": "ResolveDuplicatesSuccess",
        "kept": {"id": gid("Asset", IDS["t1"]), "title": "t1"},
        "hidden": [],
        "pairCount": 1,
    }
    assert await _clusters(gql) == [["a", "b", "c"]]
    # Nothing is hidden by a not-duplicate verdict.
    assert await _titles(gql) == ["a", "b", "c", "t1", "t2"]
    # A reprocess of t2 replaces its near-duplicate edges: the pair is scored again, higher.
    async with session_scope(services.session_factory) as session:
        await replace_asset_edges(
            session,
            tenant_id=tenant.id,
            asset_id=IDS["t2"],
            kinds=[SimilarityKind.NEAR_DUPLICATE],
            model_name=ND_MODEL,
            model_version=ND_VERSION,
            edges=[_edge_values(IDS["t1"], IDS["t2"], 0.99)],
        )
    async with session_scope(services.session_factory) as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(SimilarityEdge)
            .where(SimilarityEdge.source_asset_id == IDS["t1"])
        )
    assert stored == 1
    assert await _clusters(gql) == [["a", "b", "c"]]
    similar = await gql(SIMILAR, {"id": gid("Asset", IDS["t1"])})
    assert similar["data"]["asset"]["similarAssets"]["edges"] == []


@pytest.mark.db
async def test_every_error_a_caller_can_cause(gql: GraphQLClient, other_tenant: uuid.UUID) -> None:
    async def error(variables: dict[str, Any]) -> tuple[str, str, list[str] | None]:
        body = await gql(operation("ResolveDuplicates"), variables)
        result = body["data"]["resolveDuplicates"]
        return result["__typename"], result["code"], result["field"]

    assert await error(_resolve("a", "t1", "MARK_DUPLICATES")) == (
        "InvalidInput",
        "INVALID_INPUT",
        ["input", "keep"],
    )
    # Another tenant's cluster does not exist for this caller.
    assert await error(_resolve("x1", "x1", "MARK_DUPLICATES")) == (
        "NotFound",
        "NOT_FOUND",
        ["input", "clusterId"],
    )
    wrong = _resolve("a", "a", "MARK_DUPLICATES")
    wrong["input"]["clusterId"] = gid("Asset", IDS["a"])
    assert await error(wrong) == ("WrongIdType", "WRONG_ID_TYPE", ["input", "clusterId"])
    wrong["input"]["clusterId"] = "not-an-id"
    assert await error(wrong) == ("MalformedId", "MALFORMED_ID", ["input", "clusterId"])
    # Nothing was decided.
    assert await _clusters(gql) == [["a", "b", "c"], ["t1", "t2"]]


@pytest.mark.db
async def test_a_read_key_can_list_clusters_but_not_resolve_them(
    gql: GraphQLClient, keys: Keys, other_tenant: uuid.UUID
) -> None:
    gql.http.headers.update(auth(keys.read))
    assert await _clusters(gql) == [["a", "b", "c"], ["t1", "t2"]]
    body = await gql(operation("ResolveDuplicates"), _resolve("a", "a", "MARK_DUPLICATES"))
    assert body["data"]["resolveDuplicates"] == {
        "__typename": "Forbidden",
        "message": "this operation needs an API key with the 'write' scope",
        "code": "FORBIDDEN",
        "field": None,
    }
    gql.http.headers.update(auth(keys.admin))
    assert await _clusters(gql) == [["a", "b", "c"], ["t1", "t2"]]


def _live_generation() -> dict[str, Any]:
    meta = {"generation": "g1", "state": "live", "created_at": "2024-01-01T00:00:00+00:00", "vectors": {}}
    return {"mkg-search-gen-g1": {"aliases": {"mkg-search": {}}, "mappings": {"_meta": {"mediakg": meta}}}}


class _AnsweringElasticsearch(FakeElasticsearch):
    """Answers by path, in any order: this test reads what the search sent, not its sequence."""

    ANSWERS: ClassVar[dict[str, Any]] = {
        "/mkg-search-gen-*": _live_generation(),
        "/mkg-search-gen-g1/_count": {"count": 0},
        "/_msearch": {"took": 1, "responses": [{"status": 200, "hits": {"hits": []}}]},
    }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.raw_path.decode()).split("?")[0]
        self.expect(request.method, path, self.ANSWERS[path])
        return super().handle(request)


def _excluded(body: Any) -> list[str]:
    """The asset ids the one BM25 search of an _msearch body excludes (sorted)."""
    (_, search) = body
    (tenant_filter,) = search["query"]["bool"]["filter"]
    clauses = tenant_filter["bool"].get("must_not", [])
    return sorted(asset_id for clause in clauses for asset_id in clause["terms"]["asset_id"])


@pytest.mark.db
async def test_elasticsearch_is_asked_to_leave_marked_duplicates_out_unless_included(
    gql: GraphQLClient, services: Services, monkeypatch: pytest.MonkeyPatch, other_tenant: uuid.UUID
) -> None:
    await gql(operation("ResolveDuplicates"), _resolve("a", "a", "MARK_DUPLICATES"))
    fake = _AnsweringElasticsearch()
    monkeypatch.setattr(services, "search", backend_for(fake))
    for include in (False, True):
        query = {"text": "harbour", "mode": "TEXT", "filter": {"includeDuplicates": include}}
        body = await gql(operation("Search"), {"input": query})
        assert body["data"]["search"]["totalCount"] == 0, body
    searches = [r.body for r in fake.requests if r.target.startswith("/_msearch")]
    hidden = sorted([str(IDS["b"]), str(IDS["c"])])
    assert [_excluded(b) for b in searches] == [hidden, []]

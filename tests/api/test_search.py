"""The `search` field through graphql/operations/Search*.graphql on a known, indexed graph:
exact payloads, paging, facets, soft deletes, statement counts and every error a caller can cause."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import ValidationError
from sqlalchemy import update

from app.assets.models import Asset
from app.core.container import Services
from app.core.db import session_scope
from app.core.enums import AssetKind, AssetStatus, Modality, OwnerType
from app.core.settings import Settings
from app.media.models import Embedding
from app.media.service import vector_to_bytes
from app.search_index.repository import load_snapshots
from app.tenancy.models import Tenant
from jobs.indexing import embed_missing, generation_spec, sync_assets
from search.backend import GenerationSpec, SearchBackend, VectorSpec
from search.calibration import shipped_calibration
from search.documents import DocType, VectorField
from search.query import SearchQuery
from tests.api.conftest import GraphQLClient, operation
from tests.api.graph import gid
from tests.fixtures.keys import auth, issue_key
from tests.search.indexgraph import SPEC, T0, IndexGraph, build_index_graph

RANK1 = 1 / 61  # RRF score of a first rank, weight 1, constant 60
RANK2 = 1 / 62


@pytest.fixture(autouse=True)
def no_default_cutoff(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests pin ranking, paging, filters and deletes on an index of three assets, where
    BM25's idf is a fraction of a real library's and the default relevance cutoff (fitted on the
    labelled set) would drop what they look at; the cutoff has tests of its own below."""
    monkeypatch.setattr(settings, "search_min_relevance", None)


def _text_relevance(bm25: float, words: int) -> float:
    return shipped_calibration().retriever("text", bm25, words)


@pytest.fixture
async def graph(services: Services, tenant: Tenant) -> IndexGraph:
    graph = await build_index_graph(services.session_factory, tenant.id)
    backend: SearchBackend = services.search
    await backend.create_generation(SPEC)
    report = await sync_assets(
        services.session_factory, backend, [graph.harbour.id, graph.poster.id, graph.gone.id]
    )
    assert report.ok
    return graph


def _search(text: str, **extra: Any) -> dict[str, Any]:
    return {"input": {"text": text, "mode": "TEXT", **extra}}


def _error(body: dict[str, Any]) -> tuple[str, list[str] | None, str]:
    (error,) = body["errors"]
    return error["extensions"]["code"], error["extensions"].get("field"), error["message"]


async def test_a_spoken_phrase_finds_its_moment_with_time_codes(
    gql: GraphQLClient, graph: IndexGraph, services: Services
) -> None:
    body = await gql(operation("Search"), _search("lighthouse keeper"))
    # The relevance is the shipped calibration of the engine's own BM25 score (two query words).
    (direct,) = (
        await services.search.search(
            SearchQuery(tenant_id=str(graph.harbour.tenant_id), text="lighthouse keeper")
        )
    ).hits
    harbour_bm25 = direct.retriever_scores["text"]
    scene = graph.scenes[1]
    assert body == {
        "data": {
            "search": {
                "totalCount": 1,
                "retrievers": ["TEXT"],
                "edges": [
                    {
                        "cursor": body["data"]["search"]["edges"][0]["cursor"],
                        "node": {
                            "kind": "MOMENT",
                            "score": RANK1,
                            "relevance": pytest.approx(_text_relevance(harbour_bm25, 2)),
                            "startSeconds": 30.0,
                            "endSeconds": 60.0,
                            "playFromSeconds": 41.5,
                            "matchedFields": ["TRANSCRIPT"],
                            "highlights": [
                                {
                                    "field": "TRANSCRIPT",
                                    # Segments are joined by newlines in the stored field.
                                    "fragment": "Crossing now\nThe <mark>lighthouse</mark> "
                                    "<mark>keeper</mark> waves",
                                }
                            ],
                            "timeCodes": [
                                {
                                    "field": "TRANSCRIPT",
                                    "startSeconds": 41.5,
                                    "endSeconds": 44.0,
                                    "text": "The lighthouse keeper waves",
                                }
                            ],
                            "ranks": [{"retriever": "TEXT", "rank": 1}],
                            "asset": {
                                "id": gid("Asset", graph.harbour.id),
                                "title": "Harbour tour",
                                "kind": "VIDEO",
                            },
                            "scene": {
                                "id": gid("Scene", scene.id),
                                "startSeconds": 30.0,
                                "endSeconds": 60.0,
                                "keyframeUrl": None,
                            },
                        },
                    }
                ],
                "pageInfo": {"hasNextPage": False, "endCursor": body["data"]["search"]["edges"][0]["cursor"]},
            }
        }
    }


async def test_on_screen_text_finds_the_scene_showing_it(gql: GraphQLClient, graph: IndexGraph) -> None:
    body = await gql(operation("Search"), _search("captain's log"))
    (edge,) = body["data"]["search"]["edges"]
    assert edge["node"]["scene"]["id"] == gid("Scene", graph.scenes[0].id)
    assert edge["node"]["highlights"] == [
        {"field": "OCR", "fragment": "<mark>CAPTAIN</mark>'<mark>S</mark> <mark>LOG</mark>"}
    ]
    assert edge["node"]["timeCodes"] == [
        {"field": "OCR", "startSeconds": 0.0, "endSeconds": 30.0, "text": "CAPTAIN'S LOG"}
    ]


async def test_pages_follow_the_fused_order(gql: GraphQLClient, graph: IndexGraph) -> None:
    # "sea" is a tag of both live assets: their asset documents rank, title boost aside, equally.
    first = await gql(operation("Search"), {**_search("sea", scope="ASSET"), "first": 1})
    page1 = first["data"]["search"]
    assert page1["totalCount"] == 2
    assert page1["pageInfo"]["hasNextPage"] is True
    second = await gql(
        operation("Search"),
        {**_search("sea", scope="ASSET"), "first": 1, "after": page1["pageInfo"]["endCursor"]},
    )
    page2 = second["data"]["search"]
    assert page2["pageInfo"]["hasNextPage"] is False
    titles = [e["node"]["asset"]["title"] for e in page1["edges"] + page2["edges"]]
    assert sorted(titles) == ["Harbour tour", "Poster"]
    assert [e["node"]["ranks"][0]["rank"] for e in page1["edges"] + page2["edges"]] == [1, 2]
    assert [e["node"]["score"] for e in page1["edges"] + page2["edges"]] == [RANK1, RANK2]


async def test_filters_apply_before_ranking(gql: GraphQLClient, graph: IndexGraph) -> None:
    only_images = await gql(operation("Search"), _search("sea", scope="ASSET", filter={"kinds": ["IMAGE"]}))
    assert [e["node"]["asset"]["title"] for e in only_images["data"]["search"]["edges"]] == ["Poster"]
    by_metadata = await gql(
        operation("Search"),
        _search("sea", scope="ASSET", filter={"metadata": {"year": 2024.0, "camera": "A7"}}),
    )
    assert [e["node"]["asset"]["title"] for e in by_metadata["data"]["search"]["edges"]] == ["Harbour tour"]
    inside_poster = await gql(
        operation("Search"),
        _search("sea", scope="ASSET", filter={"assetIds": [gid("Asset", graph.poster.id)]}),
    )
    assert [e["node"]["asset"]["title"] for e in inside_poster["data"]["search"]["edges"]] == ["Poster"]
    later = await gql(
        operation("Search"),
        _search(
            "sea",
            scope="ASSET",
            filter={"createdAfter": T0.replace(day=3).isoformat(), "minDurationSeconds": 0},
        ),
    )
    # The poster has no duration: a duration bound drops it; the harbour was created before.
    assert later["data"]["search"]["edges"] == []


async def test_facets_count_the_filtered_assets(gql: GraphQLClient, graph: IndexGraph) -> None:
    # Facets count documents of the search's scope: assets here, as a filter sidebar shows.
    body = await gql(operation("SearchFacets"), _search("anything", scope="ASSET"))
    assert body == {
        "data": {
            "search": {
                "facets": [
                    {
                        "field": "KIND",
                        "values": [{"value": "image", "count": 1}, {"value": "video", "count": 1}],
                    },
                    {
                        "field": "TAGS",
                        "values": [{"value": "sea", "count": 2}, {"value": "boats", "count": 1}],
                    },
                    {
                        "field": "LABELS",
                        "values": [{"value": "beacon", "count": 1}, {"value": "ocean liner", "count": 1}],
                    },
                    {"field": "LANGUAGE", "values": [{"value": "en", "count": 2}]},
                ]
            }
        }
    }


async def test_root_facets_count_live_assets_without_search_text(
    gql: GraphQLClient, graph: IndexGraph
) -> None:
    # The "gone" video was deleted before indexing (removed, tombstoned): never counted.
    body = await gql(operation("Facets"))
    assert body == {
        "data": {
            "facets": [
                {"field": "KIND", "values": [{"value": "image", "count": 1}, {"value": "video", "count": 1}]},
                {"field": "TAGS", "values": [{"value": "sea", "count": 2}, {"value": "boats", "count": 1}]},
                {
                    "field": "LABELS",
                    "values": [{"value": "beacon", "count": 1}, {"value": "ocean liner", "count": 1}],
                },
                {"field": "LANGUAGE", "values": [{"value": "en", "count": 2}]},
            ]
        }
    }
    # Filtered, per moment, some fields, one value each.
    videos = await gql(operation("Facets"), {"filter": {"kinds": ["VIDEO"]}, "fields": ["TAGS", "KIND"]})
    assert videos["data"]["facets"] == [
        {"field": "TAGS", "values": [{"value": "boats", "count": 1}, {"value": "sea", "count": 1}]},
        {"field": "KIND", "values": [{"value": "video", "count": 1}]},
    ]
    # The harbour's two shots and the poster's one: three moments; one label each shot.
    moments = await gql(operation("Facets"), {"scope": "MOMENT", "fields": ["KIND", "LABELS"], "size": 1})
    assert moments["data"]["facets"] == [
        {"field": "KIND", "values": [{"value": "video", "count": 2}]},
        {"field": "LABELS", "values": [{"value": "beacon", "count": 1}]},
    ]
    # Deleted just now (no worker has removed it from the index): not counted.
    await gql(operation("DeleteAsset"), {"id": gid("Asset", graph.harbour.id)})
    after = await gql(operation("Facets"), {"fields": ["KIND", "TAGS"]})
    assert after["data"]["facets"] == [
        {"field": "KIND", "values": [{"value": "image", "count": 1}]},
        {"field": "TAGS", "values": [{"value": "sea", "count": 1}]},
    ]
    bad = await gql(operation("Facets"), {"size": 0})
    assert _error(bad) == ("INVALID_INPUT", ["size"], "size must be between 1 and 100")


async def test_a_deleted_asset_never_appears_even_while_still_indexed(
    gql: GraphQLClient, services: Services, graph: IndexGraph
) -> None:
    # Deleted in the database only: no sync message, the index still holds it.
    async with session_scope(services.session_factory) as session:
        await session.execute(update(Asset).where(Asset.id == graph.harbour.id).values(deleted_at=T0))
    body = await gql(operation("Search"), _search("sea", scope="ASSET"))
    assert [e["node"]["asset"]["title"] for e in body["data"]["search"]["edges"]] == ["Poster"]


async def test_a_just_deleted_asset_is_not_counted_before_its_index_removal(
    gql: GraphQLClient, services: Services, graph: IndexGraph
) -> None:
    before = await gql(operation("SearchFacets"), _search("sea", scope="ASSET"))
    kinds = before["data"]["search"]["facets"][0]
    assert kinds["values"] == [{"value": "image", "count": 1}, {"value": "video", "count": 1}]
    deleted = await gql(operation("DeleteAsset"), {"id": gid("Asset", graph.poster.id)})
    assert deleted["data"]["deleteAsset"]["__typename"] == "DeleteAssetSuccess"
    # No worker runs here: no sync message was processed, no reconciler pass; the index still
    # holds the poster.
    backend: SearchBackend = services.search
    indexed = await backend.search(
        SearchQuery(tenant_id=str(graph.poster.tenant_id), text="sea", scope=DocType.ASSET)
    )
    assert str(graph.poster.id) in {h.asset_id for h in indexed.hits}
    body = await gql(operation("Search"), _search("sea", scope="ASSET"))
    search = body["data"]["search"]
    assert (search["totalCount"], search["pageInfo"]["hasNextPage"]) == (1, False)
    assert [e["node"]["asset"]["title"] for e in search["edges"]] == ["Harbour tour"]
    facets = await gql(operation("SearchFacets"), _search("sea", scope="ASSET"))
    assert facets["data"]["search"]["facets"] == [
        {"field": "KIND", "values": [{"value": "video", "count": 1}]},
        {"field": "TAGS", "values": [{"value": "boats", "count": 1}, {"value": "sea", "count": 1}]},
        {"field": "LABELS", "values": [{"value": "ocean liner", "count": 1}]},
        {"field": "LANGUAGE", "values": [{"value": "en", "count": 1}]},
    ]


async def test_statements_per_search_do_not_grow_with_hits(
    gql: GraphQLClient, graph: IndexGraph, count_sql: Any
) -> None:
    await gql(operation("Search"), _search("sea"))  # the caller is resolved once per process
    with count_sql() as counter:
        body = await gql(operation("Search"), _search("sea boats harbour lighthouse ferry"))
    assert len(body["data"]["search"]["edges"]) == 3
    # The recent deletions and the marked duplicates to exclude, one batch of assets, one of
    # scenes, whatever the number of hits.
    assert counter.count == 4


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (_search("   "), ("INVALID_INPUT", ["query", "text"], "the search text must not be empty")),
        (
            _search("x" * 1001),
            ("INVALID_INPUT", ["query", "text"], "the search text exceeds 1000 characters"),
        ),
        (
            {**_search("sea"), "first": 101},
            ("PAGE_SIZE_EXCEEDED", ["first"], "`first` must be between 0 and 100, got 101"),
        ),
        (
            {**_search("sea"), "after": "bm90IGEgY3Vyc29y"},
            ("INVALID_CURSOR", ["after"], "the cursor was not issued by this search"),
        ),
        (
            _search("sea", filter={"metadata": {"crew": ["ana"]}}),
            (
                "INVALID_INPUT",
                ["query", "filter", "metadata", "crew"],
                "metadata values must be strings, numbers or booleans",
            ),
        ),
        (
            _search("sea", filter={"metadata": ["camera"]}),
            ("INVALID_INPUT", ["query", "filter", "metadata"], "metadata must be a JSON object"),
        ),
        (
            _search("sea", filter={"minDurationSeconds": 10, "maxDurationSeconds": 5}),
            (
                "INVALID_INPUT",
                ["query", "filter", "minDurationSeconds"],
                "minDurationSeconds exceeds maxDurationSeconds",
            ),
        ),
        (
            _search("sea", filter={"createdAfter": "2026-03-01T12:00:00"}),
            ("INVALID_INPUT", ["query", "filter", "createdAfter"], "timestamps need a time zone offset"),
        ),
        (
            _search("sea", minScore=-1),
            ("INVALID_INPUT", ["query", "minScore"], "minScore must be a number >= 0"),
        ),
        (
            _search("sea", minRelevance=-0.1),
            ("INVALID_INPUT", ["query", "minRelevance"], "minRelevance must be a number from 0 to 1"),
        ),
        (
            _search("sea", minRelevance=1.5),
            ("INVALID_INPUT", ["query", "minRelevance"], "minRelevance must be a number from 0 to 1"),
        ),
    ],
)
async def test_bad_input_gets_a_typed_error(
    gql: GraphQLClient, graph: IndexGraph, variables: dict[str, Any], expected: tuple[str, list[str], str]
) -> None:
    body = await gql(operation("Search"), variables)
    assert body["data"] is None
    assert _error(body) == expected


async def test_wrong_id_types_and_foreign_cursors_are_refused(gql: GraphQLClient, graph: IndexGraph) -> None:
    scene_id = gid("Scene", graph.scenes[0].id)
    body = await gql(operation("Search"), _search("sea", filter={"assetIds": [scene_id]}))
    assert _error(body) == (
        "WRONG_ID_TYPE",
        ["query", "filter", "assetIds", "0"],
        "expected an ID of Asset, got an ID of Scene",
    )
    first = await gql(operation("Search"), {**_search("sea"), "first": 1})
    cursor = first["data"]["search"]["pageInfo"]["endCursor"]
    # The cursor of the "sea" search cannot page through another search's results.
    other = await gql(operation("Search"), {**_search("boats"), "after": cursor})
    assert _error(other) == ("INVALID_CURSOR", ["after"], "the cursor was not issued by this search")


async def test_nothing_indexed_yet_is_search_unavailable(gql: GraphQLClient, tenant: Tenant) -> None:
    body = await gql(operation("Search"), _search("sea"))
    assert _error(body) == (
        "SEARCH_UNAVAILABLE",
        None,
        "nothing is indexed yet: no search generation is live",
    )


async def test_semantic_search_against_an_index_of_other_models_is_refused(
    gql: GraphQLClient, graph: IndexGraph
) -> None:
    # The live generation holds the made-up text-m:1 vectors; this server embeds with MiniLM.
    body = await gql(operation("Search"), {"input": {"text": "sea", "mode": "SEMANTIC"}})
    code, field, message = _error(body)
    assert (code, field) == ("SEARCH_UNAVAILABLE", None)
    assert message.startswith("the live index g1 holds vectors of other models")
    # HYBRID degrades to the words alone, and says so.
    hybrid = await gql(operation("Search"), {"input": {"text": "lighthouse keeper", "mode": "HYBRID"}})
    assert hybrid["data"]["search"]["retrievers"] == ["TEXT"]


@pytest.mark.models
@pytest.mark.slow
async def test_semantic_search_with_the_real_text_model(
    gql: GraphQLClient, services: Services, tenant: Tenant
) -> None:
    graph = await build_index_graph(services.session_factory, tenant.id)
    router = await services.inference_router()
    backend: SearchBackend = services.search
    spec = generation_spec(router, "minilm")
    await backend.create_generation(spec)
    ids = [graph.harbour.id, graph.poster.id]
    async with session_scope(services.session_factory) as session:
        snapshots = await load_snapshots(session, ids)
    # What `mediakg search reindex` does for a new model: embed what lacks its vectors.
    embedded = await embed_missing(
        services.session_factory,
        router,
        snapshots,
        model=spec.vectors[next(iter(spec.vectors))].model_version,
    )
    # Every scene is embedded in words: the caption shot, the labelled shot, the labelled poster.
    assert (embedded.segments, embedded.scenes, embedded.assets) == (3, 3, 2)
    await sync_assets(services.session_factory, backend, ids)
    body = await gql(
        operation("Search"),
        {"input": {"text": "a man who looks after a lighthouse", "mode": "SEMANTIC"}, "first": 2},
    )
    search = body["data"]["search"]
    assert search["retrievers"] == ["VECTOR_TEXT", "VECTOR_BRIDGE"]
    top = search["edges"][0]["node"]
    # No word of the query is in the transcript: the sentence's meaning finds the keeper.
    assert top["scene"]["id"] == gid("Scene", graph.scenes[1].id)
    assert top["ranks"][0] == {"retriever": "VECTOR_TEXT", "rank": 1}


# --- fusion settings -------------------------------------------------------------------------

FUSION_SPEC = GenerationSpec(
    name="fusion",
    vectors={VectorField.VISUAL: VectorSpec(3, "vis-m:1"), VectorField.BRIDGE: VectorSpec(3, "br-m:1")},
)
# Cosine with the query picture in each space: A looks most alike, C is described most alike.
VISUAL_COS = {"A": 1.0, "B": 0.9, "C": 0.8, "D": 0.7}
BRIDGE_COS = {"A": 0.7, "B": 0.9, "C": 1.0, "D": 0.8}


def _unit(cos: float) -> list[float]:
    return [cos, (1 - cos * cos) ** 0.5, 0.0]


@pytest.fixture
async def fusion_graph(services: Services, tenant: Tenant) -> dict[str, Asset]:
    """A query picture Q and four pictures ranked A, B, C, D by look and C, B, D, A by labels."""
    assets: dict[str, Asset] = {}
    rows: list[Embedding] = []
    for n, name in enumerate(["Q", "A", "B", "C", "D"], start=10):
        asset = Asset(
            tenant_id=tenant.id,
            kind=AssetKind.IMAGE,
            status=AssetStatus.READY,
            title=name,
            blob_key=f"sha256/{n}",
            content_sha256=f"{n:064x}",
            mime_type="image/png",
            size_bytes=100,
            created_at=T0,
            updated_at=T0,
        )
        assets[name] = asset
        for modality, model, cos in (
            (Modality.IMAGE, "vis-m", VISUAL_COS.get(name, 1.0)),
            (Modality.BRIDGE, "br-m", BRIDGE_COS.get(name, 1.0)),
        ):
            rows.append(
                Embedding(
                    tenant_id=tenant.id,
                    asset_id=asset.id,
                    owner_type=OwnerType.ASSET,
                    owner_id=asset.id,
                    modality=modality,
                    model_name=model,
                    model_version="1",
                    dimension=3,
                    vector=vector_to_bytes(np.asarray(_unit(cos), dtype=np.float32)),
                )
            )
    async with session_scope(services.session_factory) as session:
        session.add_all(assets.values())
        await session.flush()
        session.add_all(rows)
    backend: SearchBackend = services.search
    await backend.create_generation(FUSION_SPEC)
    report = await sync_assets(services.session_factory, backend, [a.id for a in assets.values()])
    assert report.ok
    return assets


async def _like_q(gql: GraphQLClient, assets: dict[str, Asset]) -> list[tuple[str, float]]:
    body = await gql(operation("SearchByImage"), {"assetId": gid("Asset", assets["Q"].id), "scope": "ASSET"})
    search = body["data"]["searchByImage"]
    assert search["retrievers"] == ["VECTOR_VISUAL", "VECTOR_BRIDGE"]
    return [(e["node"]["asset"]["title"], e["node"]["score"]) for e in search["edges"]]


async def test_fusion_weights_rank_constant_and_threshold_are_settings(
    gql: GraphQLClient, settings: Settings, fusion_graph: dict[str, Asset], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ranks: visual A1 B2 C3 D4, bridge C1 B2 D3 A4.
    # Defaults (k=60, bridge weight 0.5): A = 1/61 + 0.5/64 leads B = 1/62 + 0.5/62 by a hair.
    hits = await _like_q(gql, fusion_graph)
    assert [t for t, _ in hits] == ["A", "B", "C", "D"]
    assert hits[0][1] == pytest.approx(1 / 61 + 0.5 / 64)
    # Equal weights: C = 1/63 + 1/61 now leads, A (last by labels) falls to third.
    monkeypatch.setattr(settings, "search_rrf_weights", {"vector:bridge": 1.0})
    hits = await _like_q(gql, fusion_graph)
    assert [t for t, _ in hits] == ["C", "B", "A", "D"]
    assert hits[0][1] == pytest.approx(1 / 63 + 1 / 61)
    # Rank constant 0 favours first places: A's visual rank 1 (1 + 1/4) passes B (1/2 + 1/2).
    monkeypatch.setattr(settings, "search_rrf_rank_constant", 0)
    hits = await _like_q(gql, fusion_graph)
    assert [t for t, _ in hits] == ["C", "A", "B", "D"]
    assert hits[0][1] == pytest.approx(1 / 3 + 1)
    # A default threshold drops what falls below it (D = 1/4 + 1/3).
    monkeypatch.setattr(settings, "search_min_score", 0.6)
    assert [t for t, _ in await _like_q(gql, fusion_graph)] == ["C", "A", "B"]


def test_rrf_weights_setting_names_known_retrievers_only() -> None:
    assert Settings(search_rrf_weights={"vector:clip": 2.0}).search_rrf_weights == {"vector:clip": 2.0}
    with pytest.raises(ValidationError, match="unknown retriever 'bm25'"):
        Settings(search_rrf_weights={"bm25": 1.0})
    with pytest.raises(ValidationError, match="weight of text must be a finite number >= 0"):
        Settings(search_rrf_weights={"text": -1.0})


async def test_another_tenant_finds_nothing_of_this_one(
    http: httpx.AsyncClient, services: Services, graph: IndexGraph
) -> None:
    # The same index, another tenant's key: search, asset scope, root facets and a filter naming
    # this tenant's asset all come back empty (the tenant is applied inside the engine).
    stranger = auth(await issue_key(services.session_factory, tenant="stranger", name="stranger-read"))

    async def ask(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=stranger
        )
        body: dict[str, Any] = response.json()
        return body

    own = await ask(operation("Search"), _search("lighthouse keeper"))
    assert own["data"]["search"]["totalCount"] == 0
    assert own["data"]["search"]["edges"] == []
    assets = await ask(operation("Search"), _search("lighthouse keeper", scope="ASSET"))
    assert assets["data"]["search"]["edges"] == []
    named = await ask(
        operation("Search"),
        _search("lighthouse keeper", filter={"assetIds": [gid("Asset", graph.harbour.id)]}),
    )
    assert named["data"]["search"]["edges"] == []
    facets = await ask(operation("Facets"))
    assert facets["data"]["facets"]
    assert all(facet["values"] == [] for facet in facets["data"]["facets"]), facets


async def test_text_mode_is_not_cut_by_default_and_min_relevance_cuts_it(
    gql: GraphQLClient, graph: IndexGraph, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = await gql(operation("Search"), _search("lighthouse keeper sea"))
    relevance = [e["node"]["relevance"] for e in everything["data"]["search"]["edges"]]
    assert len(relevance) >= 2
    assert all(0.0 < r < 1.0 for r in relevance)
    # TEXT: one retriever, so the relevance falls as the score does.
    assert relevance == sorted(relevance, reverse=True)
    cutoff = (relevance[0] + relevance[-1]) / 2
    # The default cutoff is for searches with vectors: BM25 returns only documents sharing a
    # word, and on this three-asset index even exact matches score under a default fitted on 37.
    monkeypatch.setattr(settings, "search_min_relevance", 0.99)

    default = await gql(operation("Search"), _search("lighthouse keeper sea"))
    kept = await gql(operation("Search"), _search("lighthouse keeper sea", minRelevance=cutoff))

    assert [e["node"]["relevance"] for e in default["data"]["search"]["edges"]] == relevance
    page = kept["data"]["search"]
    assert [e["node"]["relevance"] for e in page["edges"]] == [r for r in relevance if r >= cutoff]
    assert page["totalCount"] == sum(1 for r in relevance if r >= cutoff)

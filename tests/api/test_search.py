"""The `search` field through graphql/operations/Search*.graphql on a known, indexed graph:
exact payloads, paging, facets, soft deletes, statement counts and every error a caller can cause."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from app.assets.models import Asset
from app.bootstrap import inference_for
from app.container import Services
from app.db import session_scope
from app.tenancy.models import Tenant
from jobs.indexing import embed_missing, generation_spec, load_snapshots, sync_assets
from search.backend import SearchBackend
from tests.api.conftest import GraphQLClient, operation
from tests.api.graph import gid
from tests.search.indexgraph import SPEC, T0, IndexGraph, build_index_graph

RANK1 = 1 / 61  # RRF score of a first rank, weight 1, constant 60
RANK2 = 1 / 62


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
    gql: GraphQLClient, graph: IndexGraph
) -> None:
    body = await gql(operation("Search"), _search("lighthouse keeper"))
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


async def test_a_deleted_asset_never_appears_even_while_still_indexed(
    gql: GraphQLClient, services: Services, graph: IndexGraph
) -> None:
    # Deleted in the database only: no sync message, the index still holds it.
    async with session_scope(services.session_factory) as session:
        await session.execute(update(Asset).where(Asset.id == graph.harbour.id).values(deleted_at=T0))
    body = await gql(operation("Search"), _search("sea", scope="ASSET"))
    assert [e["node"]["asset"]["title"] for e in body["data"]["search"]["edges"]] == ["Poster"]


async def test_statements_per_search_do_not_grow_with_hits(
    gql: GraphQLClient, graph: IndexGraph, count_sql: Any
) -> None:
    await gql(operation("Search"), _search("sea"))  # the caller is resolved once per process
    with count_sql() as counter:
        body = await gql(operation("Search"), _search("sea boats harbour lighthouse ferry"))
    assert len(body["data"]["search"]["edges"]) == 3
    # One batch of assets, one of scenes, whatever the number of hits.
    assert counter.count == 2


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
    router = await inference_for(services)
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

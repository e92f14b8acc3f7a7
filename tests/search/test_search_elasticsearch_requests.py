"""Every request the Elasticsearch backend sends, asserted byte-for-byte as JSON.

Only the network is faked (tests/search/fake_es.py); the client, its serializer and
``helpers.async_bulk`` are the real ones, so these bodies are what a cluster receives.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from search.backend import GenerationError, GenerationSpec, GenerationState, SearchError, VectorSpec
from search.calibration import Calibration, GroupFusion, Logistic, logit, sigmoid
from search.documents import AssetDocument, DocType, MomentDocument, TimedText, Vector, VectorField
from search.elasticsearch import asset_sources, num_candidates
from search.elasticsearch.requests import search_bodies
from search.query import (
    FacetField,
    FacetQuery,
    Filters,
    Fusion,
    QueryVector,
    SearchQuery,
    TextField,
    TimeCode,
)
from tests.search.fake_es import NOW, FakeElasticsearch, Request, backend_for

LIST = "/mkg-search-gen-*?allow_no_indices=true&expand_wildcards=open"
SPEC = GenerationSpec(name="g1", vectors={VectorField.TEXT: VectorSpec(3, "minilm@1")})
CREATED = "2024-01-01T00:00:00+00:00"
SOURCE = [
    "doc_id",
    "doc_type",
    "asset_id",
    "scene_id",
    "start_s",
    "end_s",
    "title",
    "transcript_segments",
    "ocr_segments",
]


def _text(ignore_above: int) -> dict[str, Any]:
    return {
        "type": "text",
        "analyzer": "english",
        "fields": {"raw": {"type": "keyword", "ignore_above": ignore_above}},
    }


def _meta(name: str, state: str, vectors: dict[str, Any], created: str = CREATED) -> dict[str, Any]:
    return {"mediakg": {"generation": name, "state": state, "created_at": created, "vectors": vectors}}


def _indices(*generations: tuple[str, str, bool]) -> dict[str, Any]:
    """GET response listing generations as (name, _meta state, holds the alias)."""
    return {
        f"mkg-search-gen-{name}": {
            "aliases": {"mkg-search": {}} if live else {},
            "mappings": {"_meta": _meta(name, state, {"text": {"dims": 3, "model_version": "minilm@1"}})},
            "settings": {},
        }
        for name, state, live in generations
    }


def _asset() -> AssetDocument:
    return AssetDocument(
        tenant_id="t1",
        asset_id="a1",
        version=7,
        kind="video",
        title="Harbour <tour>",
        created_at=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        tags=("travel",),
        labels=("boat",),
        transcript=(TimedText(1.0, 3.0, "welcome aboard"),),
        ocr=(TimedText(0.0, 12.5, "PIER 9"),),
        language="en",
        duration_s=42.5,
        people=("Ada Lovelace",),
        person_ids=("p1",),
        user_metadata={"season": 2.0, "premium": True},
        vectors={VectorField.TEXT: Vector.of([0.0, 1.0, 0.0], "minilm@1")},
        moments=(
            MomentDocument(
                scene_id="s1",
                start_s=0.0,
                end_s=12.5,
                title="Intro",
                transcript=(TimedText(1.0, 3.0, "welcome aboard"),),
                ocr=(TimedText(2.0, 4.0, "PIER 9"),),
                labels=("boat",),
                faces_count=2,
                people=("Ada Lovelace",),
                vectors={
                    VectorField.TEXT: Vector.of([1.0, 0.0, 0.0], "minilm@1"),
                    VectorField.VISUAL: Vector.of([1.0, 0.0], "mobilenet@1"),
                },
            ),
        ),
    )


def _shared_source() -> dict[str, Any]:
    return {
        "tenant_id": "t1",
        "asset_id": "a1",
        "version": 7,
        "kind": "video",
        "language": "en",
        "duration_s": 42.5,
        "created_at": "2024-05-06T07:08:09+00:00",
        "title": "Harbour <tour>",
        "tags": ["travel"],
        # On every document of the asset: the person filter keeps its moments too.
        "person_ids": ["p1"],
        "user_metadata": {"premium": "true", "season": "2"},
    }


async def test_first_generation_puts_the_template_and_a_live_index() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", {})
    fake.expect("PUT", "/_index_template/mkg-search", {"acknowledged": True})
    fake.expect("PUT", "/mkg-search-gen-g1", {"acknowledged": True, "index": "mkg-search-gen-g1"})
    backend = backend_for(fake)

    info = await backend.create_generation(SPEC)

    assert info.state is GenerationState.LIVE
    assert info.created_at == NOW
    properties = {
        "doc_id": {"type": "keyword"},
        "doc_type": {"type": "keyword"},
        "tenant_id": {"type": "keyword"},
        "asset_id": {"type": "keyword"},
        "scene_id": {"type": "keyword"},
        "version": {"type": "long"},
        "kind": {"type": "keyword"},
        "language": {"type": "keyword"},
        "duration_s": {"type": "double"},
        "created_at": {"type": "date"},
        "start_s": {"type": "double"},
        "end_s": {"type": "double"},
        "faces_count": {"type": "integer"},
        "title": _text(512),
        "description": _text(512),
        "tags": _text(256),
        "labels": _text(256),
        "transcript": _text(256),
        "ocr": _text(256),
        "people": _text(256),
        "person_ids": {"type": "keyword"},
        "transcript_segments": {"type": "object", "enabled": False},
        "ocr_segments": {"type": "object", "enabled": False},
        "user_metadata": {"type": "flattened"},
        "vec_text_model": {"type": "keyword"},
        "vec_visual_model": {"type": "keyword"},
        "vec_bridge_model": {"type": "keyword"},
        "vec_clip_model": {"type": "keyword"},
    }
    assert fake.requests == [
        Request("GET", LIST, None),
        Request(
            "PUT",
            "/_index_template/mkg-search",
            {
                "index_patterns": ["mkg-search-gen-*"],
                "_meta": {"managed_by": "mediakg"},
                "priority": 200,
                "template": {
                    "settings": {"index": {"number_of_shards": 1, "gc_deletes": "1h"}},
                    "mappings": {"dynamic": "strict", "properties": properties},
                },
            },
        ),
        Request(
            "PUT",
            "/mkg-search-gen-g1",
            {
                "aliases": {"mkg-search": {}},
                "mappings": {
                    "_meta": _meta(
                        "g1", "live", {"text": {"dims": 3, "model_version": "minilm@1"}}, NOW.isoformat()
                    ),
                    "properties": {
                        "vec_text": {
                            "type": "dense_vector",
                            "dims": 3,
                            "index": True,
                            "similarity": "cosine",
                            "index_options": {"type": "int8_hnsw", "m": 16, "ef_construction": 100},
                        }
                    },
                },
            },
        ),
    ]
    assert fake.script == []


async def test_next_generation_is_built_without_the_alias() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect("PUT", "/_index_template/mkg-search", {"acknowledged": True})
    fake.expect("PUT", "/mkg-search-gen-g2", {"acknowledged": True})
    spec = GenerationSpec(
        name="g2",
        vectors={
            VectorField.TEXT: VectorSpec(384, "minilm@2"),
            VectorField.BRIDGE: VectorSpec(384, "bridge@1"),
        },
    )

    info = await backend_for(fake).create_generation(spec)

    assert info.state is GenerationState.BUILDING
    vector = {
        "type": "dense_vector",
        "dims": 384,
        "index": True,
        "similarity": "cosine",
        "index_options": {"type": "int8_hnsw", "m": 16, "ef_construction": 100},
    }
    assert fake.requests[2] == Request(
        "PUT",
        "/mkg-search-gen-g2",
        {
            "mappings": {
                "_meta": _meta(
                    "g2",
                    "building",
                    {
                        "bridge": {"dims": 384, "model_version": "bridge@1"},
                        "text": {"dims": 384, "model_version": "minilm@2"},
                    },
                    NOW.isoformat(),
                ),
                "properties": {"vec_bridge": vector, "vec_text": vector},
            }
        },
    )


async def test_activation_moves_the_alias_in_one_aliases_call() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True), ("g2", "building", False)))
    fake.expect("POST", "/_aliases", {"acknowledged": True})
    fake.expect("PUT", "/mkg-search-gen-g1/_mapping", {"acknowledged": True})
    fake.expect("PUT", "/mkg-search-gen-g2/_mapping", {"acknowledged": True})
    fake.expect("POST", "/mkg-search-gen-g2/_count", {"count": 12})

    info = await backend_for(fake).activate_generation("g2")

    assert (info.name, info.state, info.document_count) == ("g2", GenerationState.LIVE, 12)
    vectors = {"text": {"dims": 3, "model_version": "minilm@1"}}
    assert fake.requests[1:] == [
        Request(
            "POST",
            "/_aliases",
            {
                "actions": [
                    {"remove": {"index": "mkg-search-gen-g1", "alias": "mkg-search"}},
                    {"add": {"index": "mkg-search-gen-g2", "alias": "mkg-search"}},
                ]
            },
        ),
        Request("PUT", "/mkg-search-gen-g1/_mapping", {"_meta": _meta("g1", "retired", vectors)}),
        Request("PUT", "/mkg-search-gen-g2/_mapping", {"_meta": _meta("g2", "live", vectors)}),
        Request("POST", "/mkg-search-gen-g2/_count", {"query": {"terms": {"doc_type": ["asset", "moment"]}}}),
    ]


async def test_the_live_generation_cannot_be_dropped() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True), ("g0", "retired", False)))
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True), ("g0", "retired", False)))
    fake.expect("DELETE", "/mkg-search-gen-g0", {"acknowledged": True})
    backend = backend_for(fake)

    with pytest.raises(GenerationError):
        await backend.drop_generation("g1")
    await backend.drop_generation("g0")

    assert [(r.method, r.target) for r in fake.requests] == [
        ("GET", LIST),
        ("GET", LIST),
        ("DELETE", "/mkg-search-gen-g0"),
    ]


async def test_upsert_writes_external_versions_and_reports_each_document() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect("POST", "/mkg-search-gen-g1/_mget", {"docs": [{"_id": "t1:t:a1", "found": False}]})
    fake.expect(
        "PUT",
        "/_bulk",
        {
            "took": 3,
            "errors": True,
            "items": [
                {
                    "index": {
                        "_index": "mkg-search-gen-g1",
                        "_id": "t1:a:a1",
                        "status": 201,
                        "result": "created",
                    }
                },
                {
                    "index": {
                        "_index": "mkg-search-gen-g1",
                        "_id": "t1:m:a1:s1",
                        "status": 409,
                        "error": {
                            "type": "version_conflict_engine_exception",
                            "reason": "current version [9]",
                        },
                    }
                },
            ],
        },
    )
    fake.expect("POST", "/mkg-search-gen-g1/_delete_by_query", {"deleted": 1})

    report = await backend_for(fake, refresh="wait_for").upsert([_asset()])

    assert report.written == 1
    assert report.stale == ("m:a1:s1",)
    assert report.failures == ()
    # g1 has no visual field: the moment's visual vector is not written there.
    assert report.skipped_vectors == ("g1/m:a1:s1/visual",)
    assert fake.requests[1] == Request(
        "POST", "/mkg-search-gen-g1/_mget?_source_includes=tenant_id,asset_id,version", {"ids": ["t1:t:a1"]}
    )
    assert fake.requests[2] == Request(
        "PUT",
        "/_bulk?refresh=wait_for",
        [
            {
                "index": {
                    "_id": "t1:a:a1",
                    "_index": "mkg-search-gen-g1",
                    "version": 7,
                    "version_type": "external",
                }
            },
            {
                "doc_id": "a:a1",
                "doc_type": "asset",
                **_shared_source(),
                "scene_id": None,
                "start_s": None,
                "end_s": None,
                "faces_count": 0,
                "description": "",
                # The asset document holds everything said and shown: whole-asset search
                # matches speech and on-screen text with the same field boosts as moments.
                "labels": ["boat"],
                # The names of the people seen in the asset: searchable text.
                "people": ["Ada Lovelace"],
                "transcript": ["welcome aboard"],
                "ocr": ["PIER 9"],
                "transcript_segments": [[1.0, 3.0, "welcome aboard"]],
                "ocr_segments": [[0.0, 12.5, "PIER 9"]],
                "vec_text": [0.0, 1.0, 0.0],
                "vec_text_model": "minilm@1",
            },
            {
                "index": {
                    "_id": "t1:m:a1:s1",
                    "_index": "mkg-search-gen-g1",
                    "version": 7,
                    "version_type": "external",
                }
            },
            {
                "doc_id": "m:a1:s1",
                "doc_type": "moment",
                **_shared_source(),
                "scene_id": "s1",
                "start_s": 0.0,
                "end_s": 12.5,
                "faces_count": 2,
                "description": "Intro",
                "labels": ["boat"],
                # The names of the people seen in this scene.
                "people": ["Ada Lovelace"],
                "transcript": ["welcome aboard"],
                "ocr": ["PIER 9"],
                "transcript_segments": [[1.0, 3.0, "welcome aboard"]],
                "ocr_segments": [[2.0, 4.0, "PIER 9"]],
                "vec_text": [1.0, 0.0, 0.0],
                "vec_text_model": "minilm@1",
            },
        ],
    )
    assert fake.requests[3] == Request(
        "POST",
        "/mkg-search-gen-g1/_delete_by_query?conflicts=proceed&refresh=true",
        {
            "query": {
                "bool": {
                    "should": [
                        {
                            "bool": {
                                "filter": [
                                    {"term": {"tenant_id": "t1"}},
                                    {"term": {"asset_id": "a1"}},
                                    {"terms": {"doc_type": ["asset", "moment"]}},
                                    {"range": {"version": {"lt": 7}}},
                                ]
                            }
                        }
                    ],
                    "minimum_should_match": 1,
                }
            }
        },
    )


async def test_upsert_reports_rejected_documents_without_raising() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect("POST", "/mkg-search-gen-g1/_mget", {"docs": [{"_id": "t1:t:a1", "found": False}]})
    fake.expect(
        "PUT",
        "/_bulk",
        {
            "errors": True,
            "items": [
                {
                    "index": {
                        "_index": "mkg-search-gen-g1",
                        "_id": "t1:a:a1",
                        "status": 400,
                        "error": {
                            "type": "document_parsing_exception",
                            "reason": "failed to parse field [duration_s]",
                        },
                    }
                },
                {"index": {"_index": "mkg-search-gen-g1", "_id": "t1:m:a1:s1", "status": 201}},
            ],
        },
    )
    fake.expect("POST", "/mkg-search-gen-g1/_delete_by_query", {"deleted": 0})

    report = await backend_for(fake).upsert([_asset()])

    assert not report.ok
    assert report.written == 1
    assert [(f.generation, f.doc_id, f.reason) for f in report.failures] == [
        ("g1", "a:a1", "failed to parse field [duration_s]")
    ]


async def test_upsert_refuses_assets_deleted_after_their_version() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect(
        "POST",
        "/mkg-search-gen-g1/_mget",
        {
            "docs": [
                {
                    "_id": "t1:t:a1",
                    "found": True,
                    "_source": {"tenant_id": "t1", "asset_id": "a1", "version": 8},
                }
            ]
        },
    )

    report = await backend_for(fake).upsert([_asset()])

    # No bulk and no cleanup: nothing of the deleted asset is written back.
    assert report.stale == ("a:a1",)
    assert report.written == 0
    assert len(fake.requests) == 2


async def test_delete_writes_a_tombstone_and_versioned_deletes_in_every_generation() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True), ("g2", "building", False)))
    fake.expect(
        "POST",
        "/mkg-search-gen-g1/_search",
        {
            "hits": {
                "hits": [{"_id": "t1:a:a1", "sort": ["a:a1"]}, {"_id": "t1:m:a1:s1", "sort": ["m:a1:s1"]}]
            }
        },
    )
    fake.expect(
        "POST", "/mkg-search-gen-g2/_search", {"hits": {"hits": [{"_id": "t1:a:a1", "sort": ["a:a1"]}]}}
    )
    fake.expect(
        "PUT",
        "/_bulk",
        {
            "errors": True,
            "items": [
                {"index": {"_index": "mkg-search-gen-g1", "_id": "t1:t:a1", "status": 201}},
                {"delete": {"_index": "mkg-search-gen-g1", "_id": "t1:a:a1", "status": 200}},
                {
                    "delete": {
                        "_index": "mkg-search-gen-g1",
                        "_id": "t1:m:a1:s1",
                        "status": 409,
                        "error": {"type": "version_conflict_engine_exception", "reason": "newer"},
                    }
                },
                {"index": {"_index": "mkg-search-gen-g2", "_id": "t1:t:a1", "status": 201}},
                {
                    "delete": {
                        "_index": "mkg-search-gen-g2",
                        "_id": "t1:a:a1",
                        "status": 404,
                        "result": "not_found",
                        "error": {"type": "not_found"},
                    }
                },
            ],
        },
    )

    report = await backend_for(fake).delete_asset(tenant_id="t1", asset_id="a1", version=9)

    assert report.written == 2
    assert report.stale == ("m:a1:s1",)
    assert report.failures == ()
    ids_query = {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"tenant_id": "t1"}},
                    {"term": {"asset_id": "a1"}},
                    {"terms": {"doc_type": ["asset", "moment"]}},
                ]
            }
        },
        "size": 1000,
        "sort": [{"doc_id": "asc"}],
        "_source": False,
    }
    tombstone = {"doc_id": "t:a1", "doc_type": "tombstone", "tenant_id": "t1", "asset_id": "a1", "version": 9}
    assert fake.requests[1:] == [
        Request("POST", "/mkg-search-gen-g1/_search", ids_query),
        Request("POST", "/mkg-search-gen-g2/_search", ids_query),
        Request(
            "PUT",
            "/_bulk?refresh=false",
            [
                {
                    "index": {
                        "_id": "t1:t:a1",
                        "_index": "mkg-search-gen-g1",
                        "version": 9,
                        "version_type": "external",
                    }
                },
                tombstone,
                {
                    "delete": {
                        "_id": "t1:a:a1",
                        "_index": "mkg-search-gen-g1",
                        "version": 9,
                        "version_type": "external",
                    }
                },
                {
                    "delete": {
                        "_id": "t1:m:a1:s1",
                        "_index": "mkg-search-gen-g1",
                        "version": 9,
                        "version_type": "external",
                    }
                },
                {
                    "index": {
                        "_id": "t1:t:a1",
                        "_index": "mkg-search-gen-g2",
                        "version": 9,
                        "version_type": "external",
                    }
                },
                tombstone,
                {
                    "delete": {
                        "_id": "t1:a:a1",
                        "_index": "mkg-search-gen-g2",
                        "version": 9,
                        "version_type": "external",
                    }
                },
            ],
        ),
    ]


def _hit(doc_id: str, score: float, highlight: dict[str, list[str]] | None = None) -> dict[str, Any]:
    asset, scene = doc_id.split(":")[1:3]
    hit: dict[str, Any] = {
        "_index": "mkg-search-gen-g1",
        "_id": f"t1:{doc_id}",
        "_score": score,
        "_source": {
            "doc_id": doc_id,
            "doc_type": "moment",
            "asset_id": asset,
            "scene_id": scene,
            "start_s": 40.0,
            "end_s": 50.0,
            "title": f"Title {asset}",
            "transcript_segments": [[40.0, 41.5, "intro"], [42.0, 44.0, "the zeppelin lands"]],
            "ocr_segments": [],
        },
    }
    if highlight:
        hit["highlight"] = highlight
    return hit


async def test_search_sends_bm25_and_knn_together_with_filters_inside_knn() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect(
        "POST",
        "/_msearch",
        {
            "took": 4,
            "responses": [
                {
                    "status": 200,
                    "hits": {
                        "hits": [
                            _hit("m:a1:s4", 7.5, {"transcript": ["the <mark>zeppelin</mark> lands"]}),
                            _hit("m:a2:s1", 3.0, {"title": ["<mark>Zeppelin</mark> &amp; co"]}),
                        ]
                    },
                },
                {
                    "status": 200,
                    "hits": {
                        "hits": [
                            _hit("m:a2:s1", 0.95, {"title": ["<mark>Zeppelin</mark> &amp; co"]}),
                            _hit("m:a3:s0", 0.75),
                        ]
                    },
                },
            ],
        },
    )
    query = SearchQuery(
        tenant_id="t1",
        text="zeppelin",
        vectors=(QueryVector.of(VectorField.TEXT, [1.0, 2.0, 2.0], "minilm@1"),),
        filters=Filters(
            kinds=("video",),
            tags=("air", "travel"),
            labels=("sky",),
            languages=("en",),
            duration_min_s=10.0,
            duration_max_s=600.0,
            created_from=datetime(2024, 1, 1, tzinfo=UTC),
            created_to=datetime(2025, 1, 1, tzinfo=UTC),
            asset_ids=("a1", "a2", "a3"),
            person_ids=("p1", "p2"),
            exclude_asset_ids=("a9",),
            metadata={"season": 2, "premium": False},
        ),
        weights={"text": 1.0, "vector:text": 2.0},
        rank_constant=1,
        k=10,
        limit=2,
    )

    results = await backend_for(fake).search(query)

    where = {
        "bool": {
            "filter": [
                {"term": {"tenant_id": "t1"}},
                {"term": {"doc_type": "moment"}},
                {"terms": {"kind": ["video"]}},
                {"terms": {"language": ["en"]}},
                {"terms": {"asset_id": ["a1", "a2", "a3"]}},
                {"terms": {"person_ids": ["p1", "p2"]}},
                {"term": {"tags.raw": "air"}},
                {"term": {"tags.raw": "travel"}},
                {"term": {"labels.raw": "sky"}},
                {"term": {"user_metadata.premium": "false"}},
                {"term": {"user_metadata.season": "2"}},
                {"range": {"duration_s": {"gte": 10.0, "lte": 600.0}}},
                {
                    "range": {
                        "created_at": {"gte": "2024-01-01T00:00:00+00:00", "lt": "2025-01-01T00:00:00+00:00"}
                    }
                },
            ],
            "must_not": [{"terms": {"asset_id": ["a9"]}}],
        }
    }
    match = {
        "multi_match": {
            "query": "zeppelin",
            "type": "most_fields",
            "operator": "or",
            "fields": [
                "title^3.0",
                "description^1.5",
                "tags^2.0",
                "labels^1.5",
                "transcript^1.0",
                "ocr^1.0",
                "people^1.5",
            ],
        }
    }
    highlight = {
        "pre_tags": ["<mark>"],
        "post_tags": ["</mark>"],
        "encoder": "html",
        "fragment_size": 120,
        "number_of_fragments": 3,
        "fields": {"title": {}, "description": {}, "tags": {}, "labels": {}, "transcript": {}, "ocr": {}},
        "highlight_query": match,
    }
    assert fake.requests[1] == Request(
        "POST",
        "/_msearch",
        [
            {"index": "mkg-search-gen-g1"},
            {
                "size": 10,
                "_source": SOURCE,
                "query": {"bool": {"must": [match], "filter": [where]}},
                "highlight": highlight,
            },
            {"index": "mkg-search-gen-g1"},
            {
                "size": 10,
                "_source": SOURCE,
                "knn": {
                    "field": "vec_text",
                    "query_vector": [1.0, 2.0, 2.0],
                    "k": 10,
                    "num_candidates": 100,
                    "filter": where,
                },
                "highlight": highlight,
            },
        ],
    )
    # RRF, constant 1: a2:s1 = 1/3 + 2/2, a3:s0 = 2/3, a1:s4 = 1/2 (beyond the page of 2).
    assert [hit.doc_id for hit in results.hits] == ["m:a2:s1", "m:a3:s0"]
    assert results.total == 3
    first = results.hits[0]
    assert first.score == pytest.approx(1 / 3 + 2 / 2)
    assert first.ranks == {"text": 2, "vector:text": 1}
    # (1 + cos) / 2 = 0.95 -> cos 0.9
    assert first.retriever_scores == pytest.approx({"text": 3.0, "vector:text": 0.9})
    assert [(h.field, h.fragment) for h in first.highlights] == [
        (TextField.TITLE, "<mark>Zeppelin</mark> &amp; co")
    ]
    assert (first.asset_id, first.scene_id, first.start_s, first.end_s) == ("a2", "s1", 40.0, 50.0)


def _asset_hit(asset: str, score: float, highlight: dict[str, list[str]] | None = None) -> dict[str, Any]:
    hit: dict[str, Any] = {
        "_index": "mkg-search-gen-g1",
        "_id": f"t1:a:{asset}",
        "_score": score,
        "_source": {
            "doc_id": f"a:{asset}",
            "doc_type": "asset",
            "asset_id": asset,
            "title": f"Title {asset}",
            "transcript_segments": [[42.0, 44.0, "the zeppelin lands"]],
            "ocr_segments": [],
        },
    }
    if highlight:
        hit["highlight"] = highlight
    return hit


async def test_asset_scope_knn_searches_moments_and_fetches_assets_found_only_through_them() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect(
        "POST",
        "/_msearch",
        {
            "responses": [
                {
                    "status": 200,
                    "hits": {"hits": [_asset_hit("a1", 5.0, {"transcript": ["<mark>zeppelin</mark>"]})]},
                },
                {
                    "status": 200,
                    "hits": {
                        # a2 through two moments (its best counts), a1 through its own document.
                        "hits": [
                            _hit("m:a2:s1", 0.95),
                            _hit("m:a2:s0", 0.9),
                            _asset_hit("a1", 0.8),
                            _hit("m:a1:s4", 0.7),
                        ]
                    },
                },
            ]
        },
    )
    fake.expect(
        "POST",
        "/mkg-search-gen-g1/_search",
        {"hits": {"hits": [_asset_hit("a2", 0.0, {"title": ["<mark>Zeppelin</mark> &amp; co"]})]}},
    )
    query = SearchQuery(
        tenant_id="t1",
        text="zeppelin",
        vectors=(QueryVector.of(VectorField.TEXT, [1.0, 2.0, 2.0], "minilm@1"),),
        scope=DocType.ASSET,
        filters=Filters(kinds=("video",)),
        rank_constant=1,
        k=10,
    )

    results = await backend_for(fake).search(query)

    where = {
        "bool": {
            "filter": [
                {"term": {"tenant_id": "t1"}},
                {"term": {"doc_type": "asset"}},
                {"terms": {"kind": ["video"]}},
            ]
        }
    }
    either = {
        "bool": {
            "filter": [
                {"term": {"tenant_id": "t1"}},
                {"terms": {"doc_type": ["asset", "moment"]}},
                {"terms": {"kind": ["video"]}},
            ]
        }
    }
    lines = fake.requests[1].body
    assert lines[1]["query"]["bool"]["filter"] == [where]
    # The kNN asks for 4 documents per asset wanted, among the assets and their moments.
    assert lines[3]["knn"] == {
        "field": "vec_text",
        "query_vector": [1.0, 2.0, 2.0],
        "k": 40,
        "num_candidates": num_candidates(40),
        "filter": either,
    }
    assert lines[3]["size"] == 40
    # a2's own document came from no retriever: fetched with the page's highlights.
    assert fake.requests[2] == Request(
        "POST",
        "/mkg-search-gen-g1/_search",
        {
            "size": 1,
            "_source": SOURCE,
            "query": {"bool": {"filter": [{"term": {"tenant_id": "t1"}}, {"terms": {"doc_id": ["a:a2"]}}]}},
            "highlight": lines[1]["highlight"],
        },
    )
    # RRF, constant 1: a1 = 1/2 (BM25) + 1/3 (kNN, 2nd: its own document's cosine 0.6), a2 = 1/2
    # (kNN, 1st at its best moment's cosine 0.9; the other moment counts no more).
    assert [hit.doc_id for hit in results.hits] == ["a:a1", "a:a2"]
    assert results.hits[0].score == pytest.approx(1 / 2 + 1 / 3)
    assert results.hits[0].retriever_scores == pytest.approx({"text": 5.0, "vector:text": 0.6})
    assert results.total == 2
    second = results.hits[1]
    assert second.ranks == {"vector:text": 1}
    assert second.retriever_scores == pytest.approx({"vector:text": 0.9})
    assert (second.doc_type, second.asset_id, second.scene_id, second.title) == (
        DocType.ASSET,
        "a2",
        None,
        "Title a2",
    )
    assert [(h.field, h.fragment) for h in second.highlights] == [
        (TextField.TITLE, "<mark>Zeppelin</mark> &amp; co")
    ]


async def test_relevance_comes_from_the_bm25_score_and_the_knn_similarity() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect(
        "POST",
        "/_msearch",
        {
            "responses": [
                {"status": 200, "hits": {"hits": [_hit("m:a1:s4", 16.0), _hit("m:a2:s1", 1.0)]}},
                {"status": 200, "hits": {"hits": [_hit("m:a2:s1", 0.95), _hit("m:a3:s0", 0.55)]}},
            ]
        },
    )
    calibration = Calibration(
        text=Logistic(slope=1.0, intercept=-2.0),
        vectors={"vector:text": Logistic(slope=10.0, intercept=-6.0)},
        fusion={"meaning+text": GroupFusion(intercept=0.0, weights={"meaning": 1.0, "text": 1.0})},
    )
    base = SearchQuery(
        tenant_id="t1",
        text="zeppelin landing",
        vectors=(QueryVector.of(VectorField.TEXT, [1.0, 2.0, 2.0], "minilm@1"),),
        groups={"vector:text": "meaning"},
        k=10,
    )
    query = replace(base, fusion=Fusion.RELEVANCE, calibration=calibration, min_relevance=0.5)

    results = await backend_for(fake).search(query)

    # The cutoff and the calibration are applied to what came back: the request is the plain one.
    index = "mkg-search-gen-g1"
    assert fake.requests[1] == Request("POST", "/_msearch", search_bodies(index, base)[1])
    # BM25 per query word (2 words), cosine from (1 + cos) / 2; a document one retriever did not
    # return gets its floor: BM25 0 (the list was not cut at k), the kNN list's last cosine.
    p = {
        "m:a1:s4": (sigmoid(16.0 / 2 - 2), sigmoid(10 * 0.1 - 6)),
        "m:a2:s1": (sigmoid(1.0 / 2 - 2), sigmoid(10 * 0.9 - 6)),
        "m:a3:s0": (sigmoid(-2.0), sigmoid(10 * 0.1 - 6)),
    }
    fused = {doc: sigmoid(logit(t) + logit(v)) for doc, (t, v) in p.items()}
    expected = sorted((doc for doc in fused if fused[doc] >= 0.5), key=lambda doc: -fused[doc])
    assert [hit.doc_id for hit in results.hits] == expected == ["m:a2:s1", "m:a1:s4"]
    assert [hit.relevance for hit in results.hits] == pytest.approx([fused[doc] for doc in expected])
    assert [hit.score for hit in results.hits] == [hit.relevance for hit in results.hits]
    assert results.total == 2


async def test_time_codes_come_from_the_highlighted_transcript_words() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect(
        "POST",
        "/_msearch",
        {
            "responses": [
                {
                    "hits": {
                        "hits": [_hit("m:a1:s4", 7.5, {"transcript": ["the <mark>zeppelin</mark> lands"]})]
                    }
                }
            ]
        },
    )

    results = await backend_for(fake).search(SearchQuery(tenant_id="t1", text="zeppelin"))

    (hit,) = results.hits
    assert hit.time_codes == (TimeCode(TextField.TRANSCRIPT, 42.0, 44.0, "the zeppelin lands"),)


async def test_highlight_off_asks_for_no_highlights() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect("POST", "/_msearch", {"responses": [{"hits": {"hits": []}}, {"hits": {"hits": []}}]})

    await backend_for(fake).search(
        SearchQuery(
            tenant_id="t1",
            text="zeppelin",
            vectors=(QueryVector.of(VectorField.TEXT, [1.0, 0.0, 0.0], "minilm@1"),),
            highlight=False,
            k=500,
        )
    )

    header, text_body, _, knn_body = fake.requests[1].body
    assert header == {"index": "mkg-search-gen-g1"}
    assert "highlight" not in text_body
    assert "highlight" not in knn_body
    # num_candidates grows with k (4x) up to Elasticsearch's cap of 10 000.
    assert knn_body["knn"]["num_candidates"] == 2000


async def test_a_failed_retriever_fails_the_search() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect(
        "POST",
        "/_msearch",
        {"responses": [{"status": 400, "error": {"type": "search_phase_execution_exception"}}]},
    )
    with pytest.raises(SearchError):
        await backend_for(fake).search(SearchQuery(tenant_id="t1", text="x"))


async def test_search_without_a_live_generation_is_an_error() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g2", "building", False)))
    with pytest.raises(SearchError):
        await backend_for(fake).search(SearchQuery(tenant_id="t1", text="x"))


async def test_facets_send_terms_aggregations_under_the_filters() -> None:
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect(
        "POST",
        "/mkg-search-gen-g1/_search",
        {
            "hits": {"hits": []},
            "aggregations": {
                "kind": {"buckets": [{"key": "video", "doc_count": 5}, {"key": "audio", "doc_count": 2}]},
                "tags": {"buckets": [{"key": "news", "doc_count": 4}]},
            },
        },
    )

    result = await backend_for(fake).facets(
        FacetQuery(
            tenant_id="t1",
            fields=(FacetField.KIND, FacetField.TAGS),
            filters=Filters(languages=("en",)),
            size=5,
        )
    )

    order = [{"_count": "desc"}, {"_key": "asc"}]
    assert fake.requests[1] == Request(
        "POST",
        "/mkg-search-gen-g1/_search",
        {
            "aggs": {
                "kind": {"terms": {"field": "kind", "size": 5, "order": order}},
                "tags": {"terms": {"field": "tags.raw", "size": 5, "order": order}},
            },
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"tenant_id": "t1"}},
                        {"term": {"doc_type": "asset"}},
                        {"terms": {"language": ["en"]}},
                    ]
                }
            },
            "size": 0,
        },
    )
    assert [(v.value, v.count) for v in result.facets[FacetField.KIND]] == [("video", 5), ("audio", 2)]
    assert [(v.value, v.count) for v in result.facets[FacetField.TAGS]] == [("news", 4)]


async def test_facets_without_text_count_every_field_and_skip_excluded_assets() -> None:
    # What the root `facets` field sends: no query text, all four fields, the caller's pending
    # deletions excluded inside the query.
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", _indices(("g1", "live", True)))
    fake.expect(
        "POST",
        "/mkg-search-gen-g1/_search",
        {
            "hits": {"hits": []},
            "aggregations": {
                "kind": {"buckets": [{"key": "image", "doc_count": 3}]},
                "tags": {"buckets": []},
                "labels": {"buckets": [{"key": "cat", "doc_count": 2}, {"key": "dog", "doc_count": 2}]},
                "language": {"buckets": [{"key": "en", "doc_count": 1}]},
            },
        },
    )

    result = await backend_for(fake).facets(
        FacetQuery(tenant_id="t1", filters=Filters(exclude_asset_ids=("a9", "a7")), size=10)
    )

    order = [{"_count": "desc"}, {"_key": "asc"}]
    assert fake.requests[1] == Request(
        "POST",
        "/mkg-search-gen-g1/_search",
        {
            "aggs": {
                "kind": {"terms": {"field": "kind", "size": 10, "order": order}},
                "tags": {"terms": {"field": "tags.raw", "size": 10, "order": order}},
                "labels": {"terms": {"field": "labels.raw", "size": 10, "order": order}},
                "language": {"terms": {"field": "language", "size": 10, "order": order}},
            },
            "query": {
                "bool": {
                    "filter": [{"term": {"tenant_id": "t1"}}, {"term": {"doc_type": "asset"}}],
                    "must_not": [{"terms": {"asset_id": ["a9", "a7"]}}],
                }
            },
            "size": 0,
        },
    )
    assert {field: [(v.value, v.count) for v in values] for field, values in result.facets.items()} == {
        FacetField.KIND: [("image", 3)],
        FacetField.TAGS: [],
        FacetField.LABELS: [("cat", 2), ("dog", 2)],
        FacetField.LANGUAGE: [("en", 1)],
    }


async def test_a_clip_generation_maps_stores_and_searches_the_clip_field() -> None:
    # A generation built with a CLIP directory configured: a `clip` field of the CLIP image
    # tower's dims (the registry's, here 4) beside the text field.
    spec = GenerationSpec(
        name="g1",
        vectors={
            VectorField.TEXT: VectorSpec(3, "minilm@1"),
            VectorField.CLIP: VectorSpec(4, "clip-x-image:v1"),
        },
    )
    fake = FakeElasticsearch()
    fake.expect("GET", "/mkg-search-gen-*", {})
    fake.expect("PUT", "/_index_template/mkg-search", {"acknowledged": True})
    fake.expect("PUT", "/mkg-search-gen-g1", {"acknowledged": True, "index": "mkg-search-gen-g1"})
    backend = backend_for(fake)

    await backend.create_generation(spec)

    hnsw = {"type": "int8_hnsw", "m": 16, "ef_construction": 100}
    assert fake.requests[2].body["mappings"]["properties"] == {
        "vec_clip": {
            "type": "dense_vector",
            "dims": 4,
            "index": True,
            "similarity": "cosine",
            "index_options": hnsw,
        },
        "vec_text": {
            "type": "dense_vector",
            "dims": 3,
            "index": True,
            "similarity": "cosine",
            "index_options": hnsw,
        },
    }
    assert fake.requests[2].body["mappings"]["_meta"]["mediakg"]["vectors"] == {
        "text": {"dims": 3, "model_version": "minilm@1"},
        "clip": {"dims": 4, "model_version": "clip-x-image:v1"},
    }

    # The moment's CLIP image vector is written with its model; the asset has none.
    base = _asset()
    moment = replace(
        base.moments[0],
        vectors={
            **base.moments[0].vectors,
            VectorField.CLIP: Vector.of([0.0, 0.0, 0.6, 0.8], "clip-x-image:v1"),
        },
    )
    sources, skipped = asset_sources(spec, replace(base, moments=(moment,)))
    assert skipped == ["g1/m:a1:s1/visual"]
    (_, asset_source), (_, moment_source) = sources
    assert "vec_clip" not in asset_source
    assert {k: v for k, v in moment_source.items() if k.startswith("vec_")} == {
        "vec_clip": [0.0, 0.0, pytest.approx(0.6), pytest.approx(0.8)],
        "vec_clip_model": "clip-x-image:v1",
        "vec_text": [1.0, 0.0, 0.0],
        "vec_text_model": "minilm@1",
    }

    # A CLIP text embedding of the query runs as its own kNN retriever on vec_clip.
    query = SearchQuery(
        tenant_id="t1",
        vectors=(QueryVector.of(VectorField.CLIP, [0.0, 0.0, 1.0, 0.0], "clip-x-image:v1"),),
        k=5,
    )
    retrievers, lines = backend.search_bodies("mkg-search", query)
    assert retrievers == ["vector:clip"]
    assert lines == [
        {"index": "mkg-search"},
        {
            "size": 5,
            "_source": SOURCE,
            "knn": {
                "field": "vec_clip",
                "query_vector": [0.0, 0.0, 1.0, 0.0],
                "k": 5,
                "num_candidates": num_candidates(5),
                "filter": {
                    "bool": {"filter": [{"term": {"tenant_id": "t1"}}, {"term": {"doc_type": "moment"}}]}
                },
            },
        },
    ]

"""The behaviour every search backend must show; runs once per backend (see conftest.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields, replace
from datetime import timedelta

import numpy as np
import pytest

from search.backend import GenerationError, GenerationSpec, GenerationState, SearchBackend, VectorSpec
from search.documents import (
    AssetDocument,
    DocType,
    TimedText,
    Vector,
    VectorField,
    asset_doc_id,
    metadata_token,
    moment_doc_id,
)
from search.fusion import reciprocal_rank_fusion
from search.query import (
    TEXT_RETRIEVER,
    FacetField,
    FacetQuery,
    Filters,
    QueryError,
    QueryVector,
    SearchQuery,
    SearchResults,
    TextField,
    vector_retriever,
)
from tests.search.conftest import SPEC
from tests.search.corpus import (
    BASE_DATE,
    OTHER_TENANT,
    TENANT,
    TEXT_DIMS,
    TEXT_MODEL,
    VISUAL_MODEL,
    corpus,
    make_asset,
    with_transcript,
)


async def _loaded(backend: SearchBackend, assets: list[AssetDocument] | None = None) -> list[AssetDocument]:
    await backend.create_generation(SPEC)
    assets = assets if assets is not None else corpus()
    report = await backend.upsert(assets)
    assert report.ok, report.failures
    assert report.stale == ()
    return assets


def _text_query(vec: Vector) -> QueryVector:
    return QueryVector.of(VectorField.TEXT, vec.values, TEXT_MODEL)


def _ids(results: SearchResults) -> list[str]:
    return [hit.doc_id for hit in results.hits]


def _moment_matrix(assets: list[AssetDocument]) -> tuple[list[str], np.ndarray]:
    ids = [moment_doc_id(a.asset_id, m.scene_id) for a in assets for m in a.moments]
    rows = [m.vectors[VectorField.TEXT].values for a in assets for m in a.moments]
    matrix = np.array(rows, dtype=np.float64)
    return ids, matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _assert_knn_matches(
    got: list[tuple[str, float]], ids: list[str], matrix: np.ndarray, query: np.ndarray, k: int, exact: bool
) -> None:
    sims = matrix @ (query / np.linalg.norm(query))
    order = sorted(range(len(ids)), key=lambda i: (-sims[i], ids[i]))[:k]
    expected = [ids[i] for i in order]
    if exact:
        assert [doc_id for doc_id, _ in got] == expected
        np.testing.assert_allclose(
            [score for _, score in got], [sims[i] for i in order], rtol=1e-5, atol=1e-6
        )
        return
    # HNSW over int8 vectors may swap neighbours whose similarities nearly tie.
    by_id = dict(zip(ids, sims, strict=True))
    assert len(got) == len(expected)
    for (doc_id, _), want in zip(got, expected, strict=True):
        assert abs(by_id[doc_id] - by_id[want]) < 0.02


async def test_indexed_moment_is_found_with_its_time_code(backend: SearchBackend) -> None:
    assets = corpus()
    assets[4] = with_transcript(
        assets[4],
        2,
        TimedText(20.0, 41.5, "and now the sports results"),
        TimedText(42.0, 45.0, "the zeppelin landed safely in the harbour"),
    )
    await _loaded(backend, assets)

    results = await backend.search(SearchQuery(tenant_id=TENANT, text="zeppelin"))

    assert results.total == 1
    (hit,) = results.hits
    assert (hit.doc_type, hit.asset_id, hit.scene_id, hit.start_s, hit.end_s) == (
        DocType.MOMENT,
        "a04",
        "s2",
        20.0,
        30.0,
    )
    assert hit.title == "Clip number 4"
    assert hit.ranks == {TEXT_RETRIEVER: 1}
    assert [(code.field, code.start_s, code.end_s) for code in hit.time_codes] == [
        (TextField.TRANSCRIPT, 42.0, 45.0)
    ]
    assert hit.matched_fields == (TextField.TRANSCRIPT,)
    (highlight,) = hit.highlights
    assert "<mark>zeppelin</mark>" in highlight.fragment


async def test_ocr_text_finds_the_scene_that_shows_it(backend: SearchBackend) -> None:
    assets = corpus()
    moments = list(assets[2].moments)
    moments[1] = replace(moments[1], ocr=(TimedText(12.0, 14.0, "BREAKING: Volcano erupts"),))
    assets[2] = replace(assets[2], moments=tuple(moments))
    await _loaded(backend, assets)

    results = await backend.search(SearchQuery(tenant_id=TENANT, text="volcano"))

    assert _ids(results) == [moment_doc_id("a02", "s1")]
    assert [(c.field, c.start_s) for c in results.hits[0].time_codes] == [(TextField.OCR, 12.0)]


async def test_asset_scope_matches_the_assets_speech_and_on_screen_text(backend: SearchBackend) -> None:
    assets = corpus()
    assets[3] = replace(
        assets[3],
        transcript=(TimedText(3.0, 6.0, "the zeppelin landed safely"),),
        ocr=(TimedText(10.0, 20.0, "BREAKING: Volcano erupts"),),
    )
    await _loaded(backend, assets)

    for text, field, start in (("zeppelin", TextField.TRANSCRIPT, 3.0), ("volcano", TextField.OCR, 10.0)):
        results = await backend.search(SearchQuery(tenant_id=TENANT, text=text, scope=DocType.ASSET))
        assert _ids(results) == [asset_doc_id("a03")], text
        (hit,) = results.hits
        assert hit.matched_fields == (field,)
        assert [(c.field, c.start_s) for c in hit.time_codes] == [(field, start)]


async def test_asset_scope_vectors_rank_each_asset_at_its_best_document(
    backend: SearchBackend, exact_knn: bool
) -> None:
    assets = await _loaded(backend)
    # a05's second shot: a05's own vector (random here, a title's and its moments' mean in the
    # service) is far from it, as a video's is from the one shot that answers.
    probe = assets[5].moments[1].vectors[VectorField.TEXT].values.astype(np.float64)
    unit = probe / np.linalg.norm(probe)

    def cosine(vector: Vector) -> float:
        values = vector.values.astype(np.float64)
        return float(values @ unit / np.linalg.norm(values))

    best = {
        asset_doc_id(a.asset_id): max(
            cosine(v)
            for v in (a.vectors[VectorField.TEXT], *(m.vectors[VectorField.TEXT] for m in a.moments))
        )
        for a in assets
    }
    assert cosine(assets[5].vectors[VectorField.TEXT]) < 0.9 < best[asset_doc_id("a05")]

    results = await backend.search(
        SearchQuery(
            tenant_id=TENANT,
            vectors=(_text_query(assets[5].moments[1].vectors[VectorField.TEXT]),),
            scope=DocType.ASSET,
            k=200,
            limit=100,
        )
    )

    retriever = vector_retriever(VectorField.TEXT)
    # Each asset once, as its own document, at the best similarity of its own and its moments'.
    assert all(hit.doc_type is DocType.ASSET and hit.scene_id is None for hit in results.hits)
    assert sorted(_ids(results)) == sorted(best)
    first = results.hits[0]
    assert (first.doc_id, first.title) == (asset_doc_id("a05"), "Clip number 5")
    got = {hit.doc_id: hit.retriever_scores[retriever] for hit in results.hits}
    tolerance = 1e-5 if exact_knn else 0.02
    for doc_id, similarity in got.items():
        assert similarity == pytest.approx(best[doc_id], abs=tolerance), doc_id
    if exact_knn:
        assert _ids(results) == sorted(best, key=lambda doc_id: (-best[doc_id], doc_id))

    # The filters hold for the moments too: an excluded asset is not found through them.
    excluded = await backend.search(
        SearchQuery(
            tenant_id=TENANT,
            vectors=(_text_query(assets[5].moments[1].vectors[VectorField.TEXT]),),
            scope=DocType.ASSET,
            filters=Filters(exclude_asset_ids=("a05",)),
        )
    )
    assert asset_doc_id("a05") not in _ids(excluded)
    assert excluded.hits


async def test_update_replaces_text_vectors_and_removed_scenes(backend: SearchBackend) -> None:
    assets = corpus()
    assets[3] = with_transcript(assets[3], 0, TimedText(0.0, 5.0, "the original capybara"))
    await _loaded(backend, assets)
    rng = np.random.default_rng(99)
    fresh = make_asset(rng, 3, version=2, moments=2)
    fresh = with_transcript(fresh, 0, TimedText(0.0, 5.0, "completely rewritten quokka"))
    report = await backend.upsert([fresh])
    assert report.ok
    assert report.stale == ()
    assert report.written == 3

    assert _ids(await backend.search(SearchQuery(tenant_id=TENANT, text="quokka"))) == [
        moment_doc_id("a03", "s0")
    ]
    # The old transcript of a03 s0 is gone, and so is scene s2 the new version lacks.
    assert (await backend.search(SearchQuery(tenant_id=TENANT, text="capybara"))).total == 0
    gone = assets[3].moments[2].vectors[VectorField.TEXT]
    found = await backend.search(
        SearchQuery(tenant_id=TENANT, vectors=(_text_query(gone),), k=100, limit=100)
    )
    assert moment_doc_id("a03", "s2") not in _ids(found)
    # The new vector is what kNN finds now.
    new_vec = fresh.moments[1].vectors[VectorField.TEXT]
    nearest = await backend.search(SearchQuery(tenant_id=TENANT, vectors=(_text_query(new_vec),), limit=1))
    assert _ids(nearest) == [moment_doc_id("a03", "s1")]
    generation = await backend.live_generation()
    assert generation is not None
    assert generation.document_count == len(assets) * 4 - 1


async def test_late_write_with_older_version_changes_nothing(backend: SearchBackend) -> None:
    assets = await _loaded(backend)
    newer = with_transcript(replace(assets[5], version=3), 0, TimedText(0.0, 5.0, "newest wombat words"))
    assert (await backend.upsert([newer])).stale == ()
    older = with_transcript(replace(assets[5], version=2), 0, TimedText(0.0, 5.0, "older platypus words"))

    report = await backend.upsert([older])

    assert "a:a05" in report.stale
    assert (await backend.search(SearchQuery(tenant_id=TENANT, text="platypus"))).total == 0
    assert (await backend.search(SearchQuery(tenant_id=TENANT, text="wombat"))).total == 1


async def test_deleted_asset_never_comes_back(backend: SearchBackend) -> None:
    assets = await _loaded(backend)
    victim = assets[6]
    probe = victim.moments[0].vectors[VectorField.TEXT]

    report = await backend.delete_asset(tenant_id=TENANT, asset_id=victim.asset_id, version=5)
    assert report.ok
    assert report.written == 1 + len(victim.moments)

    for query in (
        SearchQuery(tenant_id=TENANT, text="segment a06", k=200, limit=100),
        SearchQuery(tenant_id=TENANT, vectors=(_text_query(probe),), k=200, limit=100),
        SearchQuery(tenant_id=TENANT, text="caption a06", vectors=(_text_query(probe),), k=200, limit=100),
        SearchQuery(tenant_id=TENANT, text="Clip", scope=DocType.ASSET, k=200, limit=100),
    ):
        results = await backend.search(query)
        assert all(hit.asset_id != victim.asset_id for hit in results.hits)
    # A delayed index message carrying the version before the delete is refused.
    late = await backend.upsert([replace(victim, version=4)])
    assert "a:a06" in late.stale
    again = await backend.search(
        SearchQuery(tenant_id=TENANT, vectors=(_text_query(probe),), k=200, limit=100)
    )
    assert all(hit.asset_id != victim.asset_id for hit in again.hits)
    facets = await backend.facets(FacetQuery(tenant_id=TENANT, fields=(FacetField.KIND,)))
    assert sum(v.count for v in facets.facets[FacetField.KIND]) == len(assets) - 1


async def test_tenants_never_see_each_other(backend: SearchBackend) -> None:
    assets = corpus(6)
    rng = np.random.default_rng(5)
    theirs = make_asset(rng, 0, tenant_id=OTHER_TENANT)
    # Same asset id as a t1 asset on purpose: documents of two tenants must not collide.
    await _loaded(backend, [*assets, theirs])

    mine = await backend.search(SearchQuery(tenant_id=TENANT, text="segment a00", k=200, limit=100))
    other = await backend.search(
        SearchQuery(
            tenant_id=OTHER_TENANT, vectors=(_text_query(theirs.moments[0].vectors[VectorField.TEXT]),)
        )
    )

    assert {hit.asset_id for hit in other.hits} == {"a00"}
    assert other.total == len(theirs.moments)
    assert len([hit for hit in mine.hits if hit.asset_id == "a00"]) == len(assets[0].moments)
    counts = await backend.facets(FacetQuery(tenant_id=OTHER_TENANT, fields=(FacetField.KIND,)))
    assert [(v.value, v.count) for v in counts.facets[FacetField.KIND]] == [(theirs.kind, 1)]
    await backend.delete_asset(tenant_id=OTHER_TENANT, asset_id="a00", version=9)
    still_mine = await backend.search(SearchQuery(tenant_id=TENANT, text="segment a00", k=200, limit=100))
    assert len([hit for hit in still_mine.hits if hit.asset_id == "a00"]) == len(assets[0].moments)


def _expected_assets(assets: list[AssetDocument], filters: Filters) -> set[str]:
    def keep(asset: AssetDocument) -> bool:
        return (
            (not filters.kinds or asset.kind in filters.kinds)
            and all(tag in asset.tags for tag in filters.tags)
            and (not filters.languages or asset.language in filters.languages)
            and (filters.duration_min_s is None or (asset.duration_s or 0) >= filters.duration_min_s)
            and (filters.duration_max_s is None or (asset.duration_s or 0) <= filters.duration_max_s)
            and (filters.created_from is None or asset.created_at >= filters.created_from)
            and (filters.created_to is None or asset.created_at < filters.created_to)
            and (not filters.asset_ids or asset.asset_id in filters.asset_ids)
            and asset.asset_id not in filters.exclude_asset_ids
            and all(
                key in asset.user_metadata
                and metadata_token(asset.user_metadata[key]) == metadata_token(value)
                for key, value in filters.metadata.items()
            )
        )

    return {asset.asset_id for asset in assets if keep(asset)}


@pytest.mark.parametrize(
    "filters",
    [
        Filters(kinds=("audio",)),
        Filters(kinds=("audio", "image")),
        Filters(tags=("sport",)),
        Filters(tags=("sport", "news")),
        Filters(languages=("de",)),
        Filters(duration_min_s=60.0, duration_max_s=100.0),
        Filters(created_from=BASE_DATE + timedelta(days=3), created_to=BASE_DATE + timedelta(days=7)),
        Filters(asset_ids=("a01", "a05", "a11")),
        Filters(exclude_asset_ids=("a00", "a01")),
        Filters(metadata={"season": 2}),
        Filters(metadata={"season": 2.0, "channel": "ch1"}),
        Filters(metadata={"premium": True}),
        Filters(kinds=("video",), tags=("news",), languages=("en",)),
    ],
    ids=lambda f: "+".join(field.name for field in fields(f) if getattr(f, field.name)),
)
async def test_filters_select_exactly_the_matching_assets(backend: SearchBackend, filters: Filters) -> None:
    assets = await _loaded(backend)
    probe = assets[0].vectors[VectorField.TEXT]
    expected = _expected_assets(assets, filters)
    assert expected, "a filter case must select something"

    moments = await backend.search(
        SearchQuery(tenant_id=TENANT, vectors=(_text_query(probe),), filters=filters, k=200, limit=100)
    )
    as_assets = await backend.search(
        SearchQuery(tenant_id=TENANT, text="clip", filters=filters, scope=DocType.ASSET, k=200, limit=100)
    )

    assert {hit.asset_id for hit in moments.hits} == expected
    assert moments.total == 3 * len(expected)
    assert {hit.asset_id for hit in as_assets.hits} == expected


async def test_label_filter_applies_to_each_moment(backend: SearchBackend) -> None:
    assets = await _loaded(backend)
    probe = assets[0].vectors[VectorField.TEXT]
    results = await backend.search(
        SearchQuery(
            tenant_id=TENANT,
            vectors=(_text_query(probe),),
            filters=Filters(labels=("car", "street")),
            k=200,
            limit=100,
        )
    )
    assert {hit.scene_id for hit in results.hits} == {"s1"}
    assert results.total == len(assets)


async def test_filter_applies_before_top_k(backend: SearchBackend, exact_knn: bool) -> None:
    assets = await _loaded(backend)
    # The probe is a03's own vector, but the filter allows only a07: a post-filtered top-k
    # would come back empty; a pre-filtered one returns a07's three moments.
    probe = assets[3].moments[0].vectors[VectorField.TEXT]
    results = await backend.search(
        SearchQuery(tenant_id=TENANT, vectors=(_text_query(probe),), filters=Filters(asset_ids=("a07",)), k=3)
    )
    ids, matrix = _moment_matrix([assets[7]])
    got = [(hit.doc_id, hit.retriever_scores[vector_retriever(VectorField.TEXT)]) for hit in results.hits]
    _assert_knn_matches(got, ids, matrix, probe.values.astype(np.float64), 3, exact_knn)


async def test_facets_count_values_most_frequent_first(backend: SearchBackend) -> None:
    assets = await _loaded(backend)

    facets = await backend.facets(FacetQuery(tenant_id=TENANT))
    moments = await backend.facets(
        FacetQuery(
            tenant_id=TENANT,
            scope=DocType.MOMENT,
            fields=(FacetField.LABELS,),
            filters=Filters(kinds=("video",)),
        )
    )
    small = await backend.facets(FacetQuery(tenant_id=TENANT, fields=(FacetField.TAGS,), size=1))

    def ordered(counter: Counter[str]) -> list[tuple[str, int]]:
        return sorted(counter.items(), key=lambda item: (-item[1], item[0]))

    as_pairs = {field: [(v.value, v.count) for v in values] for field, values in facets.facets.items()}
    assert as_pairs[FacetField.KIND] == ordered(Counter(a.kind for a in assets))
    assert as_pairs[FacetField.TAGS] == ordered(Counter(tag for a in assets for tag in a.tags))
    assert as_pairs[FacetField.LANGUAGE] == ordered(Counter(a.language or "" for a in assets))
    assert as_pairs[FacetField.LABELS] == [("person", len(assets))]
    videos = [a for a in assets if a.kind == "video"]
    assert [(v.value, v.count) for v in moments.facets[FacetField.LABELS]] == ordered(
        Counter(label for a in videos for m in a.moments for label in m.labels)
    )
    assert [(v.value, v.count) for v in small.facets[FacetField.TAGS]] == ordered(
        Counter(tag for a in assets for tag in a.tags)
    )[:1]


async def test_bm25_prefers_title_matches_more_terms_and_stems(backend: SearchBackend) -> None:
    rng = np.random.default_rng(3)
    titled = replace(make_asset(rng, 0), title="Lighthouse keeper diaries")
    spoken = with_transcript(make_asset(rng, 1), 0, TimedText(0, 5, "we passed a lighthouse on the way"))
    both = with_transcript(make_asset(rng, 2), 0, TimedText(0, 5, "the lighthouse keeper waved"))
    stemmed = with_transcript(make_asset(rng, 3), 0, TimedText(0, 5, "two foxes were running"))
    await _loaded(backend, [titled, spoken, both, stemmed])

    assets_ranked = await backend.search(
        SearchQuery(tenant_id=TENANT, text="lighthouse", scope=DocType.ASSET)
    )
    moments_ranked = await backend.search(SearchQuery(tenant_id=TENANT, text="lighthouse keeper", k=10))
    stem = await backend.search(SearchQuery(tenant_id=TENANT, text="fox runs"))
    stop_only = await backend.search(SearchQuery(tenant_id=TENANT, text="the of and"))

    assert _ids(assets_ranked) == ["a:a00"]
    # a02 s0 has both words in one line; a01 s0 has one; a00's moments carry the title.
    assert set(_ids(moments_ranked)[:3]) == {"m:a00:s0", "m:a00:s1", "m:a00:s2"}
    assert _ids(moments_ranked).index("m:a02:s0") < _ids(moments_ranked).index("m:a01:s0")
    assert _ids(stem) == ["m:a03:s0"]
    assert stop_only.total == 0


async def test_knn_is_exact_top_k(backend: SearchBackend, exact_knn: bool) -> None:
    assets = await _loaded(backend)
    ids, matrix = _moment_matrix(assets)
    rng = np.random.default_rng(11)
    for _ in range(5):
        query = rng.normal(size=TEXT_DIMS)
        results = await backend.search(
            SearchQuery(
                tenant_id=TENANT, vectors=(QueryVector.of(VectorField.TEXT, query, TEXT_MODEL),), k=7, limit=7
            )
        )
        got = [(hit.doc_id, hit.retriever_scores[vector_retriever(VectorField.TEXT)]) for hit in results.hits]
        assert [hit.ranks for hit in results.hits] == [
            {vector_retriever(VectorField.TEXT): i} for i in range(1, 8)
        ]
        _assert_knn_matches(got, ids, matrix, query, 7, exact_knn)


async def test_hybrid_order_is_rrf_of_the_single_retrievers(backend: SearchBackend) -> None:
    assets = await _loaded(backend)
    vec = QueryVector.of(VectorField.TEXT, assets[2].moments[1].vectors[VectorField.TEXT].values, TEXT_MODEL)
    visual = QueryVector.of(
        VectorField.VISUAL, assets[8].moments[0].vectors[VectorField.VISUAL].values, VISUAL_MODEL
    )
    text = "harbour festival"

    def ranking(results: SearchResults, name: str) -> list[tuple[str, float]]:
        return [(hit.doc_id, hit.retriever_scores[name]) for hit in results.hits]

    only_text = await backend.search(SearchQuery(tenant_id=TENANT, text=text, k=20, limit=20))
    only_vec = await backend.search(SearchQuery(tenant_id=TENANT, vectors=(vec,), k=20, limit=20))
    only_visual = await backend.search(SearchQuery(tenant_id=TENANT, vectors=(visual,), k=20, limit=20))
    weights = {TEXT_RETRIEVER: 2.0, vector_retriever(VectorField.VISUAL): 0.5}
    hybrid = await backend.search(
        SearchQuery(
            tenant_id=TENANT,
            text=text,
            vectors=(vec, visual),
            weights=weights,
            rank_constant=10,
            k=20,
            limit=100,
        )
    )

    expected = reciprocal_rank_fusion(
        {
            TEXT_RETRIEVER: ranking(only_text, TEXT_RETRIEVER),
            vector_retriever(VectorField.TEXT): ranking(only_vec, vector_retriever(VectorField.TEXT)),
            vector_retriever(VectorField.VISUAL): ranking(only_visual, vector_retriever(VectorField.VISUAL)),
        },
        rank_constant=10,
        weights=weights,
    )
    assert only_text.total > 0
    assert _ids(hybrid) == [item.doc_id for item in expected]
    assert [hit.score for hit in hybrid.hits] == pytest.approx([item.score for item in expected])
    assert [dict(hit.ranks) for hit in hybrid.hits] == [dict(item.ranks) for item in expected]

    threshold = expected[4].score
    trimmed = await backend.search(
        SearchQuery(
            tenant_id=TENANT,
            text=text,
            vectors=(vec, visual),
            weights=weights,
            rank_constant=10,
            k=20,
            min_score=threshold,
        )
    )
    assert trimmed.total == sum(1 for item in expected if item.score >= threshold)


async def test_highlights_are_escaped_and_marked(backend: SearchBackend) -> None:
    assets = corpus(3)
    assets[1] = with_transcript(assets[1], 0, TimedText(0, 4, "use <b>bold</b> & the tarantula"))
    await _loaded(backend, assets)

    (hit,) = (await backend.search(SearchQuery(tenant_id=TENANT, text="tarantula"))).hits
    without = await backend.search(SearchQuery(tenant_id=TENANT, text="tarantula", highlight=False))

    (highlight,) = hit.highlights
    assert highlight.field is TextField.TRANSCRIPT
    assert "<mark>tarantula</mark>" in highlight.fragment
    assert "&lt;b&gt;bold&lt;/b&gt; &amp;" in highlight.fragment
    assert without.hits[0].highlights == ()


async def test_pages_partition_the_fused_list(backend: SearchBackend) -> None:
    assets = await _loaded(backend)
    vec = _text_query(assets[1].moments[0].vectors[VectorField.TEXT])
    base = {"tenant_id": TENANT, "text": "segment ends", "vectors": (vec,), "k": 25}
    everything = await backend.search(SearchQuery(**base, limit=100))  # type: ignore[arg-type]

    pages = []
    offset = 0
    while True:
        page = await backend.search(SearchQuery(**base, limit=7, offset=offset))  # type: ignore[arg-type]
        pages.append(page)
        if not page.has_more:
            break
        offset += 7

    assert everything.total == len(everything.hits) > 25
    assert [doc for page in pages for doc in _ids(page)] == _ids(everything)
    assert all(len(page.hits) == 7 for page in pages[:-1])
    assert pages[-1].has_more is False
    assert pages[0].has_more is True
    beyond = await backend.search(SearchQuery(**base, limit=5, offset=everything.total))  # type: ignore[arg-type]
    assert beyond.hits == ()
    assert beyond.total == everything.total


async def test_generations_switch_atomically_and_keep_their_models(backend: SearchBackend) -> None:
    assets = await _loaded(backend, corpus(4))
    v2 = GenerationSpec(name="g2", vectors={VectorField.TEXT: VectorSpec(TEXT_DIMS, "minilm@2")})
    created = await backend.create_generation(v2)
    assert created.state is GenerationState.BUILDING

    # Searches keep using g1 while g2 is built.
    live = await backend.live_generation()
    assert live is not None
    assert live.name == "g1"
    probe = assets[1].moments[0].vectors[VectorField.TEXT]
    before = await backend.search(SearchQuery(tenant_id=TENANT, vectors=(_text_query(probe),), limit=1))
    assert before.generation == "g1"
    assert _ids(before) == ["m:a01:s0"]
    with pytest.raises(QueryError):
        await backend.search(
            SearchQuery(
                tenant_id=TENANT, vectors=(QueryVector.of(VectorField.TEXT, probe.values, "minilm@2"),)
            )
        )

    # The reindex fills g2 with the new model's vectors; g1 is untouched.
    rng = np.random.default_rng(42)
    rebuilt = [
        replace(
            asset,
            moments=tuple(
                replace(m, vectors={VectorField.TEXT: Vector.of(rng.normal(size=TEXT_DIMS), "minilm@2")})
                for m in asset.moments
            ),
            vectors={},
        )
        for asset in assets
    ]
    report = await backend.upsert(rebuilt, generation="g2")
    assert report.ok
    assert report.skipped_vectors == ()
    # A write for every open generation keeps each one's own model: g2 skips minilm@1 vectors.
    mixed = await backend.upsert([replace(assets[0], version=2)])
    assert mixed.ok
    assert sorted(mixed.skipped_vectors)[:2] == ["g2/a:a00/text", "g2/m:a00:s0/text"]
    assert all(entry.startswith("g2/") for entry in mixed.skipped_vectors)
    still = await backend.search(SearchQuery(tenant_id=TENANT, vectors=(_text_query(probe),), limit=1))
    assert still.generation == "g1"
    assert _ids(still) == ["m:a01:s0"]

    new_probe = rebuilt[2].moments[1].vectors[VectorField.TEXT]
    v2_query = QueryVector.of(VectorField.TEXT, new_probe.values, "minilm@2")
    preview = await backend.search(
        SearchQuery(tenant_id=TENANT, vectors=(v2_query,), limit=1, generation="g2")
    )
    assert _ids(preview) == ["m:a02:s1"]

    switched = await backend.activate_generation("g2")
    assert switched.state is GenerationState.LIVE
    after = await backend.search(SearchQuery(tenant_id=TENANT, vectors=(v2_query,), limit=1))
    assert after.generation == "g2"
    assert _ids(after) == ["m:a02:s1"]
    states = {g.name: g.state for g in await backend.list_generations()}
    assert states == {"g1": GenerationState.RETIRED, "g2": GenerationState.LIVE}

    with pytest.raises(GenerationError):
        await backend.drop_generation("g2")
    with pytest.raises(GenerationError):
        await backend.create_generation(v2)
    await backend.drop_generation("g1")
    assert [g.name for g in await backend.list_generations()] == ["g2"]
    assert (await backend.health()).live_generation == "g2"


async def test_queries_without_tenant_or_input_are_refused(backend: SearchBackend) -> None:
    await _loaded(backend, corpus(2))
    with pytest.raises(QueryError):
        await backend.search(SearchQuery(tenant_id="", text="clip"))
    with pytest.raises(QueryError):
        await backend.search(SearchQuery(tenant_id=TENANT))
    with pytest.raises(QueryError):
        await backend.search(SearchQuery(tenant_id=TENANT, text="clip", limit=101))

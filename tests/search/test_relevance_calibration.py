"""Calibrated relevance (search.calibration): 0..1 on every hit of both backends, monotone with
the score within a mode, a cutoff that drops unrelated hits, and a fit that recovers known curves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from search.backend import SearchBackend
from search.calibration import (
    Calibration,
    GroupFusion,
    Logistic,
    logit,
    relevances,
    shipped_calibration,
    sigmoid,
)
from search.calibration_fit import LabelledRun, fit, fit_logistic
from search.documents import TimedText, VectorField
from search.query import Fusion, QueryError, QueryVector, SearchQuery
from tests.search.corpus import TENANT, TEXT_MODEL, corpus, with_transcript
from tests.search.test_search_behaviour import _loaded

CURVES = Calibration(
    text=Logistic(slope=2.0, intercept=-3.0),
    vectors={"vector:text": Logistic(slope=10.0, intercept=-5.0)},
    fusion={"text+vector:text": GroupFusion(intercept=-1.0, weights={"text": 1.0, "vector:text": 1.0})},
)


def test_each_retriever_maps_its_score_through_its_own_curve() -> None:
    # BM25 is divided by the query's word count: a 3-word query's 6.0 is a 1-word query's 2.0.
    assert CURVES.retriever("text", 6.0, 3) == pytest.approx(sigmoid(2.0 * 2.0 - 3.0))
    assert CURVES.retriever("text", 2.0, 1) == CURVES.retriever("text", 6.0, 3)
    assert CURVES.retriever("vector:text", 0.5, 3) == pytest.approx(0.5)
    # No fitted curve and no fallback: the cosine clipped into 0..1.
    assert CURVES.retriever("vector:visual", 1.7, 1) == 1.0
    assert CURVES.retriever("vector:visual", -0.2, 1) == 0.0


def test_groups_combine_in_the_logit_domain_and_a_single_group_is_itself() -> None:
    ranked = {"text": [("a", 6.0), ("b", 1.0)], "vector:text": [("b", 0.9), ("a", 0.2)]}

    out = relevances(ranked, calibration=CURVES, groups={}, terms=2, k=100)

    p_text_a, p_vec_a = sigmoid(2 * 3.0 - 3), sigmoid(10 * 0.2 - 5)
    assert out["a"] == pytest.approx(sigmoid(-1.0 + logit(p_text_a) + logit(p_vec_a)))
    only_text = relevances({"text": ranked["text"]}, calibration=CURVES, groups={}, terms=2, k=100)
    assert only_text == {"a": pytest.approx(p_text_a), "b": pytest.approx(sigmoid(2 * 0.5 - 3))}


def test_a_document_a_retriever_did_not_return_gets_its_floor() -> None:
    # BM25's list was not cut at k: a document it did not return matched no query word (score 0).
    # The vector list was cut: the missing document is no better than its last candidate.
    ranked = {"text": [("a", 4.0)], "vector:text": [("a", 0.8), ("c", 0.3)]}
    calibration = dataclasses.replace(CURVES, fusion={})

    out = relevances(ranked, calibration=calibration, groups={"vector:text": "meaning"}, terms=1, k=2)

    # Without fitted fusion the best group decides.
    assert out["c"] == pytest.approx(max(sigmoid(-3.0), sigmoid(10 * 0.3 - 5)))


def test_the_fit_recovers_a_known_curve() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=4000)
    y = (rng.uniform(size=x.size) < 1 / (1 + np.exp(-(6 * x - 1)))).astype(float)

    weights, intercept = fit_logistic(x[:, None], y)

    assert weights[0] == pytest.approx(6.0, abs=0.6)
    assert intercept == pytest.approx(-1.0, abs=0.25)


def test_fit_from_labelled_runs_separates_relevant_from_unrelated() -> None:
    runs = [
        LabelledRun(
            text="q",
            terms=1,
            ranked={
                "text": [("r", 8.0 + i % 3), ("u", 0.5)],
                "vector:text": [("r", 0.7), ("u", 0.1 + i % 4 * 0.05)],
            },
            relevant=frozenset({"r"}) if i % 5 else frozenset(),
        )
        for i in range(40)
    ]

    fitted = fit(runs, {}, prior=shipped_calibration())

    assert fitted.retriever("text", 9.0, 1) > 0.5 > fitted.retriever("text", 0.5, 1)
    assert fitted.retriever("vector:text", 0.7, 1) > 0.5 > fitted.retriever("vector:text", 0.1, 1)
    assert "text+vector:text" in fitted.fusion
    assert Calibration.from_json(fitted.to_json()).to_json() == fitted.to_json()


def test_the_fit_and_the_search_see_bm25_on_the_same_per_word_scale() -> None:
    # Three-word queries whose BM25 per word follows a known curve: the fitted calibration must
    # give a raw score of a three-word query that curve's probability (a fit on raw scores
    # would learn a third of the slope).
    rng = np.random.default_rng(5)
    runs = []
    for query in range(100):
        scores = rng.uniform(0, 2, size=20)
        relevant = rng.uniform(size=scores.size) < 1 / (1 + np.exp(-(4 * scores - 4)))
        runs.append(
            LabelledRun(
                text="three word query",
                terms=3,
                ranked={"text": [(f"{query}-{i}", 3 * float(x)) for i, x in enumerate(scores)]},
                relevant=frozenset(f"{query}-{i}" for i in np.flatnonzero(relevant)),
            )
        )

    fitted = fit(runs, {}, prior=shipped_calibration())

    for per_word in (0.5, 1.0, 1.5):
        assert fitted.retriever("text", 3 * per_word, 3) == pytest.approx(sigmoid(4 * per_word - 4), abs=0.06)


def test_min_relevance_outside_zero_to_one_is_refused() -> None:
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(QueryError, match="min_relevance"):
            SearchQuery(tenant_id=TENANT, text="x", min_relevance=bad).validate()


async def test_every_hit_carries_a_relevance_monotone_with_its_score(backend: SearchBackend) -> None:
    assets = await _loaded(backend)
    vec = QueryVector.of(VectorField.TEXT, assets[2].moments[1].vectors[VectorField.TEXT].values, TEXT_MODEL)
    # limit 50 holds every moment of the corpus (36): both fusions return the same hits.
    text = SearchQuery(tenant_id=TENANT, text="harbour festival segment", limit=50)
    semantic = SearchQuery(tenant_id=TENANT, vectors=(vec,), limit=50)
    hybrid = SearchQuery(tenant_id=TENANT, text="harbour festival", vectors=(vec,), limit=50)

    for query in (text, semantic):
        hits = (await backend.search(query)).hits
        assert hits
        assert all(0.0 <= hit.relevance <= 1.0 for hit in hits)
        # One retriever, fused by RRF: a better score never has a lower relevance (ties allowed).
        relevance = [hit.relevance for hit in hits]
        assert relevance == sorted(relevance, reverse=True), query
    for query in (text, semantic, hybrid):
        by_rrf = (await backend.search(query)).hits
        by_relevance = (await backend.search(dataclasses.replace(query, fusion=Fusion.RELEVANCE))).hits
        # The fusion changes the order and the score only: each hit keeps its relevance, and
        # relevance fusion scores and orders by it.
        assert {hit.doc_id: hit.relevance for hit in by_relevance} == pytest.approx(
            {hit.doc_id: hit.relevance for hit in by_rrf}
        )
        assert all(hit.score == hit.relevance for hit in by_relevance)
        relevance = [hit.relevance for hit in by_relevance]
        assert relevance == sorted(relevance, reverse=True), query


async def test_cutoff_drops_unrelated_hits(backend: SearchBackend) -> None:
    assets = corpus()
    assets[3] = with_transcript(
        assets[3], 0, TimedText(0, 4, "the tarantula crossed the desert road at dusk")
    )
    await _loaded(backend, assets)
    calibration = shipped_calibration()

    everything = await backend.search(
        SearchQuery(tenant_id=TENANT, text="tarantula desert road harbour", calibration=calibration)
    )
    kept = await backend.search(
        SearchQuery(
            tenant_id=TENANT, text="tarantula desert road harbour", calibration=calibration, min_relevance=0.5
        )
    )

    # The moment that says three of the four words stays; moments sharing one common word go.
    assert len(everything.hits) > 1
    assert [hit.doc_id for hit in kept.hits] == [everything.hits[0].doc_id]
    assert kept.total == 1

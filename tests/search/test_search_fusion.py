"""Reciprocal rank fusion: exact scores, weights, thresholds and a stable order."""

from __future__ import annotations

import pytest

from search.fusion import reciprocal_rank_fusion


def test_scores_are_weighted_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion(
        {"text": [("a", 9.0), ("b", 5.0), ("c", 1.0)], "vector:text": [("c", 0.9), ("a", 0.8)]},
        rank_constant=10,
        weights={"vector:text": 2.0},
    )

    # c (3rd by text, 1st by the double-weight vector) overtakes a (1st and 2nd).
    assert [item.doc_id for item in fused] == ["c", "a", "b"]
    assert [item.score for item in fused] == pytest.approx([1 / 13 + 2 / 11, 1 / 11 + 2 / 12, 1 / 12])
    assert fused[1].ranks == {"text": 1, "vector:text": 2}
    assert fused[1].retriever_scores == {"text": 9.0, "vector:text": 0.8}


def test_default_constant_is_sixty_and_ties_break_by_best_rank_then_id() -> None:
    fused = reciprocal_rank_fusion(
        {"x": [("b", 1.0), ("a", 1.0)], "y": [("a", 1.0), ("b", 1.0)], "z": [("c", 1.0)]}
    )

    # a and b tie on score (1/61 + 1/62); both have a best rank of 1, so the id decides.
    assert [item.doc_id for item in fused] == ["a", "b", "c"]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)
    assert fused[2].score == pytest.approx(1 / 61)


def test_zero_weight_keeps_ranks_but_not_influence() -> None:
    fused = reciprocal_rank_fusion(
        {"text": [("a", 1.0), ("b", 1.0)], "vector:text": [("b", 1.0)]}, weights={"vector:text": 0.0}
    )

    assert [item.doc_id for item in fused] == ["a", "b"]
    assert fused[1].ranks == {"text": 2, "vector:text": 1}


def test_min_score_drops_weak_documents() -> None:
    ranked = {"text": [("a", 1.0), ("b", 1.0), ("c", 1.0)]}
    fused = reciprocal_rank_fusion(ranked, rank_constant=0, min_score=0.5)

    assert [item.doc_id for item in fused] == ["a", "b"]


def test_a_document_listed_twice_counts_once_at_its_best_rank() -> None:
    fused = reciprocal_rank_fusion({"text": [("a", 3.0), ("a", 2.0), ("b", 1.0)]}, rank_constant=0)

    assert [item.doc_id for item in fused] == ["a", "b"]
    assert [item.score for item in fused] == pytest.approx([1.0, 1 / 3])


@pytest.mark.parametrize("weights", [{"text": -1.0}, {"text": float("nan")}])
def test_invalid_weights_are_refused(weights: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="weight"):
        reciprocal_rank_fusion({"text": [("a", 1.0)]}, weights=weights)


def test_empty_input_gives_nothing() -> None:
    assert reciprocal_rank_fusion({}) == []
    assert reciprocal_rank_fusion({"text": []}) == []


def test_a_group_counts_a_document_once_at_its_best_weighted_rank() -> None:
    ranked = {
        "text": [("note", 1.0)],
        # "shot" has two representations, found 2nd and 1st; "note" and "photo" have one each.
        "vector:text": [("note", 0.9), ("shot", 0.8)],
        "vector:bridge": [("photo", 0.7), ("shot", 0.6)],
    }
    weights = {"vector:bridge": 0.5}
    plain = reciprocal_rank_fusion(ranked, rank_constant=10, weights=weights)
    grouped = reciprocal_rank_fusion(
        ranked,
        rank_constant=10,
        weights=weights,
        groups={"vector:text": "meaning", "vector:bridge": "meaning"},
    )

    # Summed, the shot's two mediocre ranks beat the photo's first place.
    assert [item.doc_id for item in plain] == ["note", "shot", "photo"]
    assert plain[1].score == pytest.approx(1 / 12 + 0.5 / 12)
    # Grouped, each document takes its best member of the group: the shot 1/12 (text 2nd),
    # the photo 0.5/11 (bridge 1st); the ungrouped BM25 still adds to the note.
    assert [item.doc_id for item in grouped] == ["note", "shot", "photo"]
    assert [item.score for item in grouped] == pytest.approx([1 / 11 + 1 / 11, 1 / 12, 0.5 / 11])
    # Every retriever's rank stays visible, grouped or not.
    assert grouped[1].ranks == {"vector:text": 2, "vector:bridge": 2}


def test_a_group_lets_a_single_representation_win_over_two_weaker_ones() -> None:
    ranked = {"a": [("shot", 1.0), ("note", 1.0)], "b": [("photo", 1.0), ("shot", 1.0)]}
    plain = reciprocal_rank_fusion(ranked)
    grouped = reciprocal_rank_fusion(ranked, groups={"a": "g", "b": "g"})

    assert [item.doc_id for item in plain] == ["shot", "photo", "note"]
    # shot 1/61 (its best), photo 1/61 (tie, broken by id after the best rank), note 1/62.
    assert [item.doc_id for item in grouped] == ["photo", "shot", "note"]
    assert [item.score for item in grouped] == pytest.approx([1 / 61, 1 / 61, 1 / 62])


def test_a_group_named_like_a_retriever_stays_apart_from_it() -> None:
    fused = reciprocal_rank_fusion({"x": [("a", 1.0)], "y": [("a", 1.0)]}, groups={"y": "x"})

    # "x" is ungrouped and "y" is in a group called "x": two contributions, not one.
    assert fused[0].score == pytest.approx(2 / 61)

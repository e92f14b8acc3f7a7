"""Reciprocal rank fusion: the one way every backend combines its retrievers.

Done here in Python, not in the engine: Elasticsearch's RRF retriever needs an Enterprise
licence and OpenSearch's differs, and one implementation keeps both backends' result order
identical for identical retriever outputs.

    score(d) = sum over retrievers r that returned d of  weight(r) / (rank_constant + rank_r(d))

with 1-based ranks (Cormack, Clarke and Buettcher, SIGIR 2009; 60 is their constant).

Retrievers may be put in a group: those that compare ONE query embedding with different
representations of a moment (its words: ``vector:text``; its picture's labels:
``vector:bridge``). A group adds, per document, only its best weighted reciprocal rank:

    score(d) = sum over groups g of  max over r in g that returned d of
                   weight(r) / (rank_constant + rank_r(d))

Why: RRF's sum treats retrievers as independent votes. Representations of one moment are not
independent evidence, and summing them rewards a moment for HAVING more representations: a
video shot (speech vector and keyframe bridge vector) beat a text note or a photo ranked first
by its only vector (docs/search.md, "Relevance"). The best representation decides, as
Elasticsearch scores a nested multi-vector document by its best vector; weights keep their
meaning (a bridge rank is worth half a text rank) and a retriever that did not return a
document takes nothing from it, however short its candidate list was. An ungrouped retriever
is a group of its own, so without groups this is plain RRF.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_RANK_CONSTANT = 60


@dataclass(frozen=True, slots=True)
class FusedItem:
    """One document after fusion."""

    doc_id: str
    score: float
    ranks: Mapping[str, int]
    retriever_scores: Mapping[str, float]
    # Calibrated relevance in 0..1 (search.calibration); 0 until the query attaches it.
    relevance: float = 0.0


def reciprocal_rank_fusion(
    ranked: Mapping[str, Sequence[tuple[str, float]]],
    *,
    rank_constant: int = DEFAULT_RANK_CONSTANT,
    weights: Mapping[str, float] | None = None,
    groups: Mapping[str, str] | None = None,
    min_score: float | None = None,
) -> list[FusedItem]:
    """Fuse ranked lists ``{retriever: [(doc_id, retriever_score), ...best first]}``.

    A retriever missing from ``weights`` weighs 1.0; weight 0 keeps its ranks in the output
    (for display) without letting it move the order. ``groups`` maps retrievers to a group
    name; a group contributes its best member per document (module docstring), a retriever
    not named is its own group. A document listed twice by one retriever counts at its best
    rank. Ties break by the best rank any retriever gave, then by doc id, so the order never
    depends on dict iteration or on which backend produced the lists.
    """
    if rank_constant < 0:
        raise ValueError("rank_constant must be >= 0")
    weights = weights or {}
    groups = groups or {}
    # Per document, the best contribution of each group.
    parts: dict[str, dict[str, float]] = {}
    ranks: dict[str, dict[str, int]] = {}
    raw: dict[str, dict[str, float]] = {}
    for retriever, items in ranked.items():
        weight = weights.get(retriever, 1.0)
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of {retriever} must be a finite number >= 0")
        # Prefixed so a group name can never collide with an ungrouped retriever's name.
        group = f"group:{groups[retriever]}" if retriever in groups else f"retriever:{retriever}"
        for position, (doc_id, retriever_score) in enumerate(items, start=1):
            doc_ranks = ranks.setdefault(doc_id, {})
            if retriever in doc_ranks:
                continue
            doc_ranks[retriever] = position
            raw.setdefault(doc_id, {})[retriever] = retriever_score
            doc_parts = parts.setdefault(doc_id, {})
            doc_parts[group] = max(doc_parts.get(group, 0.0), weight / (rank_constant + position))
    # Summed in retriever order, as the scores were before groups existed (same floats).
    scores = {doc_id: sum(doc_parts.values()) for doc_id, doc_parts in parts.items()}
    fused = [
        FusedItem(doc_id=doc_id, score=score, ranks=ranks[doc_id], retriever_scores=raw[doc_id])
        for doc_id, score in scores.items()
        if min_score is None or score >= min_score
    ]
    fused.sort(key=lambda item: (-item.score, min(item.ranks.values()), item.doc_id))
    return fused

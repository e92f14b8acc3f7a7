"""Reciprocal rank fusion: the one way every backend combines its retrievers.

Done here in Python, not in the engine: Elasticsearch's RRF retriever needs an Enterprise
licence and OpenSearch's differs, and one implementation keeps both backends' result order
identical for identical retriever outputs.

    score(d) = sum over retrievers r that returned d of  weight(r) / (rank_constant + rank_r(d))

with 1-based ranks (Cormack, Clarke and Buettcher, SIGIR 2009; 60 is their constant).
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


def reciprocal_rank_fusion(
    ranked: Mapping[str, Sequence[tuple[str, float]]],
    *,
    rank_constant: int = DEFAULT_RANK_CONSTANT,
    weights: Mapping[str, float] | None = None,
    min_score: float | None = None,
) -> list[FusedItem]:
    """Fuse ranked lists ``{retriever: [(doc_id, retriever_score), ...best first]}``.

    A retriever missing from ``weights`` weighs 1.0; weight 0 keeps its ranks in the output
    (for display) without letting it move the order. A document listed twice by one retriever
    counts at its best rank. Ties break by the best rank any retriever gave, then by doc id,
    so the order never depends on dict iteration or on which backend produced the lists.
    """
    if rank_constant < 0:
        raise ValueError("rank_constant must be >= 0")
    weights = weights or {}
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    raw: dict[str, dict[str, float]] = {}
    for retriever, items in ranked.items():
        weight = weights.get(retriever, 1.0)
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of {retriever} must be a finite number >= 0")
        for position, (doc_id, retriever_score) in enumerate(items, start=1):
            doc_ranks = ranks.setdefault(doc_id, {})
            if retriever in doc_ranks:
                continue
            doc_ranks[retriever] = position
            raw.setdefault(doc_id, {})[retriever] = retriever_score
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (rank_constant + position)
    fused = [
        FusedItem(doc_id=doc_id, score=score, ranks=ranks[doc_id], retriever_scores=raw[doc_id])
        for doc_id, score in scores.items()
        if min_score is None or score >= min_score
    ]
    fused.sort(key=lambda item: (-item.score, min(item.ranks.values()), item.doc_id))
    return fused

"""Calibrated relevance: every hit's chance of being relevant, in 0..1, the same scale across queries.

A retriever's raw score says how one document compares with another for ONE query; it does not
say whether anything matched at all. Each retriever's score is therefore mapped to a probability
of relevance by a logistic curve fitted on the labelled relevance set
(``scripts/fit_relevance_calibration.py``; the parameters are data, ``search/calibration.json``):

- BM25 (``text``): ``p = sigmoid(a * bm25 / n + b)`` where ``n`` is the number of distinct query
  words BM25 sees (stop words dropped). BM25 adds one saturating term per query word, so a
  three-word query reaches three times the score of a one-word query for an equally good match;
  dividing by ``n`` puts both on one scale (a document matching one of three words scores like a
  third of a match).
- vectors (``vector:text``, ``vector:bridge``, ...): ``p = sigmoid(a * cosine + b)``, one curve per
  retriever (a bridge cosine of 0.5 means less than a text cosine of 0.5).

Fused relevance: retrievers of one fusion group (one query embedding against several views of a
moment) count at their best, as in RRF, and so do the groups: a hit is as relevant as its
strongest calibrated evidence (an exact code BM25 found, or a meaning the vectors found). A
fusion fitted in the logit domain, ``logit(p) = c0 + sum_g c_g * logit(p_g)``, is supported
(``Calibration.fusion``, fitted by ``search.calibration_fit``) but not shipped: on the labelled
set it ranked worse than the maximum (docs/search.md, "Calibrated relevance"). A document one retriever
did not return gets that retriever's evidence of "no better than its last candidate": BM25 score
0 when the list was not cut at ``k`` (no query word occurs in it), else the last candidate's
score; for vectors, the last candidate's cosine.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
TEXT_RETRIEVER = "text"
# Lucene's English stop set: Elasticsearch's `english` analyser drops these, and so does the
# embedded backend's FTS query, so BM25 sees the same number of query words in both.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)
# Probabilities are kept off exact 0 and 1 so their logits stay finite.
_EPS = 1e-6


def sigmoid(x: float) -> float:
    """The logistic function, overflow-safe."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logit(p: float) -> float:
    """The inverse of :func:`sigmoid`, with ``p`` clipped into (0, 1)."""
    p = min(1.0 - _EPS, max(_EPS, p))
    return math.log(p / (1.0 - p))


def feature(retriever: str, score: float, query_terms: int) -> float:
    """What a retriever's curve maps (module docstring): BM25 per distinct query word, or the
    cosine as it is. The fit (search.calibration_fit) and :meth:`Calibration.retriever` share it."""
    return score / max(1, query_terms) if retriever == TEXT_RETRIEVER else score


@dataclass(frozen=True, slots=True)
class Logistic:
    """``p(x) = sigmoid(slope * x + intercept)``."""

    slope: float
    intercept: float

    def __call__(self, x: float) -> float:
        return sigmoid(self.slope * x + self.intercept)


@dataclass(frozen=True, slots=True)
class GroupFusion:
    """How calibrated group relevances combine: ``logit(p) = intercept + sum_g weight_g * logit(p_g)``."""

    intercept: float
    weights: Mapping[str, float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """Per-retriever curves and the fusion of groups, for one backend's scores."""

    text: Logistic
    vectors: Mapping[str, Logistic]
    # Key: the groups present, sorted and joined with "+", e.g. "meaning+text".
    fusion: Mapping[str, GroupFusion] = field(default_factory=dict)
    # A vector retriever without a fitted curve (e.g. ``vector:visual``, which no text query
    # runs): cosine mapped linearly from [0, 1], a monotone stand-in, not a calibration.
    fallback_vector: Logistic | None = None

    def retriever(self, name: str, score: float, query_terms: int) -> float:
        """The calibrated relevance of one retriever's raw score."""
        x = feature(name, score, query_terms)
        if name == TEXT_RETRIEVER:
            return self.text(x)
        curve = self.vectors.get(name, self.fallback_vector)
        if curve is None:
            return min(1.0, max(0.0, x))
        return curve(x)

    def combine(self, groups: Mapping[str, float]) -> float:
        """Fused relevance of a document from its groups' calibrated relevances."""
        if not groups:
            return 0.0
        if len(groups) == 1:
            return next(iter(groups.values()))
        fusion = self.fusion.get("+".join(sorted(groups)))
        if fusion is None:
            return max(groups.values())
        total = fusion.intercept + sum(
            fusion.weights.get(group, 0.0) * logit(p) for group, p in groups.items()
        )
        return sigmoid(total)

    def to_json(self) -> dict[str, Any]:
        """The parameters as stored in ``calibration.json`` (without its provenance block)."""
        return {
            "text": {"slope": self.text.slope, "intercept": self.text.intercept},
            "vectors": {
                n: {"slope": c.slope, "intercept": c.intercept} for n, c in sorted(self.vectors.items())
            },
            "fusion": {
                k: {"intercept": f.intercept, "weights": dict(sorted(f.weights.items()))}
                for k, f in sorted(self.fusion.items())
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        """Parameters read back from :meth:`to_json`'s shape."""

        def curve(raw: Mapping[str, Any]) -> Logistic:
            return Logistic(slope=float(raw["slope"]), intercept=float(raw["intercept"]))

        return cls(
            text=curve(data["text"]),
            vectors={str(n): curve(c) for n, c in data["vectors"].items()},
            fusion={
                str(k): GroupFusion(
                    intercept=float(f["intercept"]),
                    weights={str(g): float(w) for g, w in f["weights"].items()},
                )
                for k, f in data.get("fusion", {}).items()
            },
            fallback_vector=Logistic(slope=8.0, intercept=-4.0),
        )


@functools.cache
def shipped_calibration(backend: str = "embedded") -> Calibration:
    """The committed calibration for ``backend`` (``embedded`` or ``elasticsearch``); a backend
    without its own fit uses the embedded one (see docs/search.md, "Calibrated relevance")."""
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    backends = data["backends"]
    return Calibration.from_json(backends.get(backend, backends["embedded"]))


def query_terms(text: str | None, tokens: Sequence[str]) -> int:
    """Distinct non-stop query words BM25 scores (``tokens``: the query tokenised)."""
    if not text:
        return 0
    return len({token for token in tokens if token not in STOP_WORDS})


def group_relevances(
    ranked: Mapping[str, Sequence[tuple[str, float]]],
    *,
    calibration: Calibration,
    groups: Mapping[str, str],
    terms: int,
    k: int,
) -> dict[str, dict[str, float]]:
    """Per document every group's calibrated relevance (its best member; module docstring)."""
    docs = {doc_id for items in ranked.values() for doc_id, _ in items}
    per_group: dict[str, dict[str, float]] = {doc_id: {} for doc_id in docs}
    for retriever, items in ranked.items():
        group = groups.get(retriever, retriever)
        scores = dict(reversed(items))  # a doc listed twice keeps its best (first) score
        if retriever == TEXT_RETRIEVER:
            missing = items[-1][1] if len(items) >= k and items else 0.0
        else:
            missing = items[-1][1] if items else -1.0
        floor = calibration.retriever(retriever, missing, terms)
        for doc_id in docs:
            raw = scores.get(doc_id)
            p = floor if raw is None else calibration.retriever(retriever, raw, terms)
            doc_groups = per_group[doc_id]
            doc_groups[group] = max(doc_groups.get(group, 0.0), p)
    return per_group


def relevances(
    ranked: Mapping[str, Sequence[tuple[str, float]]],
    *,
    calibration: Calibration,
    groups: Mapping[str, str],
    terms: int,
    k: int,
) -> dict[str, float]:
    """Fused calibrated relevance of every document any retriever returned (module docstring)."""
    per_group = group_relevances(ranked, calibration=calibration, groups=groups, terms=terms, k=k)
    return {doc_id: calibration.combine(doc_groups) for doc_id, doc_groups in per_group.items()}

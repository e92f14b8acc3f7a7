"""Fitting the relevance calibration (search.calibration) from labelled candidates.

The input is what a search returned for labelled queries: per query, each retriever's ranked
list of ``(doc_id, raw score)`` and which doc ids are relevant. Each retriever's curve is a
logistic regression of "relevant" on its feature (BM25 per query word, or cosine) over the
candidates it returned; the group fusion is a logistic regression of "relevant" on the groups'
calibrated logits over the candidates of queries that ran several groups (HYBRID).
``scripts/fit_relevance_calibration.py`` runs it on the labelled set and writes
``search/calibration.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from search.calibration import (
    TEXT_RETRIEVER,
    Calibration,
    GroupFusion,
    Logistic,
    feature,
    group_relevances,
    logit,
)

# A little L2 keeps a separable retriever (every candidate above some score relevant) from
# running its slope to infinity; it barely moves a fit on overlapping data.
_L2 = 1e-2


@dataclass(frozen=True, slots=True)
class LabelledRun:
    """One query's retriever lists and its relevant doc ids (empty for a no-match query)."""

    text: str | None
    terms: int
    ranked: Mapping[str, Sequence[tuple[str, float]]]
    relevant: frozenset[str]
    k: int = 100


def fit_logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], float]:
    """Weights and intercept of an L2-regularised logistic regression (Newton's method)."""
    n, d = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.full(d + 1, _L2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        gradient = design.T @ (p - y) + penalty * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return w[:-1], float(w[-1])


def _curve(points: Sequence[tuple[float, bool]]) -> Logistic | None:
    if len({label for _, label in points}) < 2:
        return None
    x = np.array([[value] for value, _ in points], dtype=np.float64)
    y = np.array([1.0 if label else 0.0 for _, label in points])
    weights, intercept = fit_logistic(x, y)
    return Logistic(slope=float(weights[0]), intercept=intercept)


def fit(runs: Sequence[LabelledRun], groups: Mapping[str, str], *, prior: Calibration) -> Calibration:
    """A calibration fitted on ``runs``; a retriever or fusion without both labels in the data
    keeps ``prior``'s parameters."""
    points: dict[str, list[tuple[float, bool]]] = {}
    for run in runs:
        for retriever, items in run.ranked.items():
            seen: set[str] = set()
            for doc_id, raw in items:
                if doc_id in seen:
                    continue
                seen.add(doc_id)
                points.setdefault(retriever, []).append(
                    (feature(retriever, raw, run.terms), doc_id in run.relevant)
                )
    text = _curve(points.pop(TEXT_RETRIEVER, [])) or prior.text
    vectors = dict(prior.vectors)
    for retriever, retriever_points in points.items():
        curve = _curve(retriever_points)
        if curve is not None:
            vectors[retriever] = curve
    curves = Calibration(text=text, vectors=vectors, fallback_vector=prior.fallback_vector)
    fusion = dict(prior.fusion)
    rows: dict[str, list[tuple[dict[str, float], bool]]] = {}
    for run in runs:
        per_doc = group_relevances(run.ranked, calibration=curves, groups=groups, terms=run.terms, k=run.k)
        for doc_id, doc_groups in per_doc.items():
            if len(doc_groups) > 1:
                rows.setdefault("+".join(sorted(doc_groups)), []).append((doc_groups, doc_id in run.relevant))
    for key, samples in rows.items():
        if len({label for _, label in samples}) < 2:
            continue
        names = key.split("+")
        x = np.array([[logit(groups_p[g]) for g in names] for groups_p, _ in samples], dtype=np.float64)
        y = np.array([1.0 if label else 0.0 for _, label in samples])
        weights, intercept = fit_logistic(x, y)
        fusion[key] = GroupFusion(
            intercept=intercept, weights=dict(zip(names, map(float, weights), strict=True))
        )
    return Calibration(text=text, vectors=vectors, fusion=fusion, fallback_vector=prior.fallback_vector)

"""Fusion variants replayed offline on the harder relevance set's candidate lists.

    PYTHONPATH=. .venv/bin/python scripts/fit_relevance_calibration.py --workdir DIR --dump lists.json
    PYTHONPATH=. .venv/bin/python scripts/fit_relevance_calibration.py --workdir SMALL --dump s.json --small
    PYTHONPATH=. .venv/bin/python benchmarks/relevance_fusion_variants.py lists.json [s.json]

The dump holds, per query, every HYBRID retriever list (MOMENT and ASSET scope, every candidate)
and which candidate answers which target; TEXT and SEMANTIC are the same lists without the other
retrievers. The calibration is fitted on the ``fit`` split here (as the fit script does) and each
variant is scored on both splits (and on the small set's lists when given): HYBRID nDCG@10 and
the ASSET-scope right-asset-first rate. The replay reproduces the GraphQL numbers of
``benchmarks/relevance_eval.py --hard`` (docs/search.md, "Calibrated relevance").

"joint curve per group" is not shipped: one logistic regression of relevance on the cosines of
the meaning group's members (``vector:text``, ``vector:bridge``; a member that did not return the
candidate gives its last cosine), fitted on the fit split, instead of each member's own curve
and their maximum.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from search.calibration import Calibration, GroupFusion, relevances, shipped_calibration, sigmoid
from search.calibration_fit import LabelledRun, fit, fit_logistic
from search.fusion import reciprocal_rank_fusion

GROUPS = {"vector:text": "meaning", "vector:bridge": "meaning", "vector:clip": "meaning"}
Ranked = dict[str, list[tuple[str, float]]]


def lists(entry: Mapping[str, Any], scope: str) -> Ranked:
    """The HYBRID lists of one query in one scope (BM25 present, maybe empty, when it ran)."""
    ranked: Ranked = {
        name: [(d, float(s)) for d, s in items] for name, items in entry[scope]["ranked"].items()
    }
    if entry["terms"]:
        ranked.setdefault("text", [])
    return ranked


def ndcg(docs: Sequence[str], answers: Mapping[str, int], targets: int, k: int = 10) -> float:
    """Binary-gain nDCG@k, each target counted once (as tests/search/relevance.py scores)."""
    found: set[int] = set()
    dcg = 0.0
    for rank, doc in enumerate(docs[:k], start=1):
        target = answers.get(doc)
        if target is not None and target not in found:
            found.add(target)
            dcg += 1 / math.log2(rank + 1)
    return dcg / sum(1 / math.log2(r + 1) for r in range(1, min(k, targets) + 1))


def rrf_order(ranked: Ranked, text_weight: float) -> list[str]:
    weights = {"vector:bridge": 0.5, "text": text_weight}
    return [item.doc_id for item in reciprocal_rank_fusion(ranked, weights=weights, groups=GROUPS)]


def best_ranks(ranked: Ranked) -> dict[str, int]:
    """Each candidate's best 1-based rank in any retriever."""
    best: dict[str, int] = {}
    for items in ranked.values():
        for position, (doc, _) in enumerate(items, start=1):
            best[doc] = min(best.get(doc, position), position)
    return best


def by_relevance(relevance: Mapping[str, float], ranked: Ranked) -> list[str]:
    """Candidates by relevance, ties by best rank, then doc id: the order SearchQuery.fused gives
    (a tie left to set order would change between processes: many candidates share a floor)."""
    ranks = best_ranks(ranked)
    return sorted(relevance, key=lambda doc: (-relevance[doc], ranks[doc], doc))


def relevance_order(ranked: Ranked, calibration: Calibration, terms: int) -> list[str]:
    relevance = relevances(ranked, calibration=calibration, groups=GROUPS, terms=terms, k=100)
    return by_relevance(relevance, ranked)


MEMBERS = ("vector:text", "vector:bridge")


def _member_cosines(ranked: Ranked) -> dict[str, list[float]]:
    """Per candidate, the meaning group's member cosines (a member's last cosine where it did
    not return the candidate, as the calibration's floor)."""
    docs = {doc for items in ranked.values() for doc, _ in items}
    floors = {m: ranked[m][-1][1] if ranked.get(m) else -1.0 for m in MEMBERS}
    scores = {m: dict(reversed(ranked.get(m, []))) for m in MEMBERS}
    return {doc: [scores[m].get(doc, floors[m]) for m in MEMBERS] for doc in docs}


def joint_group(data: Sequence[Mapping[str, Any]]) -> tuple[npt.NDArray[np.float64], float]:
    """The joint curve's weights and intercept, fitted on the fit split's MOMENT candidates."""
    x: list[list[float]] = []
    y: list[float] = []
    for e in data:
        if e["split"] != "fit":
            continue
        for doc, cosines in _member_cosines(lists(e, "MOMENT")).items():
            x.append(cosines)
            y.append(1.0 if doc in e["MOMENT"]["answers"] else 0.0)
    return fit_logistic(np.array(x), np.array(y))


def joint_order(
    ranked: Ranked, calibration: Calibration, terms: int, curve: tuple[npt.NDArray[np.float64], float]
) -> list[str]:
    weights, intercept = curve
    bm25 = dict(reversed(ranked.get("text", [])))
    relevance = {}
    for doc, cosines in _member_cosines(ranked).items():
        p = sigmoid(float(np.dot(weights, cosines)) + intercept)
        if "text" in ranked:
            p = max(p, calibration.retriever("text", bm25.get(doc, 0.0), terms))
        relevance[doc] = p
    return by_relevance(relevance, ranked)


def main(argv: list[str]) -> int:
    data = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    if len(argv) > 1:
        data += json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    runs = [
        LabelledRun(
            text=e["text"],
            terms=e["terms"],
            ranked=lists(e, "MOMENT"),
            relevant=frozenset(e["MOMENT"]["answers"]),
        )
        for e in data
        if e["split"] == "fit"
    ]
    fitted = fit(runs, GROUPS, prior=shipped_calibration())
    best = dataclasses.replace(fitted, fusion={})
    logit_sum = dataclasses.replace(
        fitted, fusion={"meaning+text": GroupFusion(intercept=0.0, weights={"meaning": 1.0, "text": 1.0})}
    )
    variants: dict[str, Callable[[Ranked, int], list[str]]] = {
        "RRF, BM25 weight 1": lambda r, t: rrf_order(r, 1.0),
        "RRF, BM25 weight 2": lambda r, t: rrf_order(r, 2.0),
        "calibrated, fitted logit fusion": lambda r, t: relevance_order(r, fitted, t),
        "calibrated, logit sum (1, 1)": lambda r, t: relevance_order(r, logit_sum, t),
        "calibrated, best group": lambda r, t: relevance_order(r, best, t),
        "calibrated, joint curve per group": lambda r, t: joint_order(r, best, t, curve),
    }
    curve = joint_group(data)
    splits = [split for split in ("fit", "eval", "small") if any(e["split"] == split for e in data)]
    names = " / ".join(splits)
    print(f"| HYBRID fusion | nDCG@10 {names} | ASSET right first {names} |")  # noqa: T201
    print("|---|---:|---:|")  # noqa: T201
    for name, order in variants.items():
        cells = []
        for metric in ("ndcg", "first"):
            values = []
            for split in splits:
                scores = []
                for e in data:
                    if e["split"] != split or not e["targets"]:
                        continue
                    if metric == "ndcg":
                        scores.append(
                            ndcg(order(lists(e, "MOMENT"), e["terms"]), e["MOMENT"]["answers"], e["targets"])
                        )
                    else:
                        docs = order(lists(e, "ASSET"), e["terms"])
                        scores.append(float(bool(docs) and docs[0] in e["ASSET"]["answers"]))
                values.append(f"{statistics.fmean(scores):.3f}")
            cells.append(" / ".join(values))
        print(f"| {name} | " + " | ".join(cells) + " |")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

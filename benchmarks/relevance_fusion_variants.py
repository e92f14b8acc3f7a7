"""Fusion variants replayed offline on the harder relevance set's candidate lists.

    PYTHONPATH=. .venv/bin/python scripts/fit_relevance_calibration.py --workdir DIR --dump lists.json
    PYTHONPATH=. .venv/bin/python benchmarks/relevance_fusion_variants.py lists.json

The dump holds, per query, every HYBRID retriever list (MOMENT and ASSET scope, every candidate)
and which candidate answers which target; TEXT and SEMANTIC are the same lists without the other
retrievers. The calibration is fitted on the ``fit`` split here (as the fit script does) and each
variant is scored on both splits: HYBRID nDCG@10 and the ASSET-scope right-asset-first rate. The
replay reproduces the GraphQL numbers of ``benchmarks/relevance_eval.py --hard`` (docs/search.md,
"Calibrated relevance").
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

from search.calibration import Calibration, GroupFusion, relevances, shipped_calibration
from search.calibration_fit import LabelledRun, fit
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


def relevance_order(ranked: Ranked, calibration: Calibration, terms: int) -> list[str]:
    rel = relevances(ranked, calibration=calibration, groups=GROUPS, terms=terms, k=100)
    return sorted(rel, key=lambda doc: -rel[doc])


def main(argv: list[str]) -> int:
    data = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
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
    }
    print("| HYBRID fusion | nDCG@10 fit / eval | ASSET right first fit / eval |")  # noqa: T201
    print("|---|---:|---:|")  # noqa: T201
    for name, order in variants.items():
        cells = []
        for metric in ("ndcg", "first"):
            values = []
            for split in ("fit", "eval"):
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

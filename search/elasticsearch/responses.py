"""Reading Elasticsearch's answers: generations from index metadata, per-document bulk
outcomes, and ranked hits from ``_msearch``."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from search.backend import (
    DocumentFailure,
    GenerationInfo,
    GenerationSpec,
    GenerationState,
    SearchError,
    VectorSpec,
    WriteReport,
)
from search.documents import DocType, VectorField
from search.elasticsearch.sources import stored_segments
from search.fusion import FusedItem
from search.query import TEXT_RETRIEVER, Highlight, SearchHit, TextField, best_per_asset, time_codes

Ranked = dict[str, list[tuple[str, float]]]


def generation_of(body: Mapping[str, Any], alias: str) -> GenerationInfo | None:
    """The generation an index stands for (``None``: not one of ours), from the ``_meta`` of
    its mappings and whether it holds the live alias; its document count is left at 0."""
    meta = (body.get("mappings", {}).get("_meta") or {}).get("mediakg")
    if not meta:
        return None
    spec = GenerationSpec(
        name=meta["generation"],
        vectors={
            VectorField(field): VectorSpec(dims=int(vs["dims"]), model_version=str(vs["model_version"]))
            for field, vs in meta["vectors"].items()
        },
    )
    # The alias is the truth about which generation is live; _meta only tells a
    # building generation from a retired one.
    if alias in (body.get("aliases") or {}):
        state = GenerationState.LIVE
    elif meta["state"] == GenerationState.RETIRED.value:
        state = GenerationState.RETIRED
    else:
        state = GenerationState.BUILDING
    return GenerationInfo(
        spec=spec, state=state, created_at=datetime.fromisoformat(meta["created_at"]), document_count=0
    )


def bulk_report(
    written: int, errors: Sequence[Mapping[str, Any]], generation_of: Mapping[str, str]
) -> WriteReport:
    """The report of one bulk request from its success count and per-document errors."""
    stale: list[str] = []
    failures: list[DocumentFailure] = []
    for error in errors:
        (op, item), *_ = error.items()
        doc_id = str(item.get("_id", "")).split(":", 1)[-1]
        status = int(item.get("status", 0))
        if status == 409:
            # version_conflict_engine_exception: the stored version is newer.
            stale.append(doc_id)
        elif op == "delete" and status == 404:
            # Already gone: a delete's goal is met.
            written += 1
        else:
            reason = item.get("error", {})
            text = reason.get("reason", str(reason)) if isinstance(reason, dict) else str(reason)
            failures.append(DocumentFailure(generation_of.get(item.get("_index", ""), "?"), doc_id, text))
    return WriteReport(written=written, stale=tuple(stale), failures=tuple(failures))


def rankings(
    retrievers: Sequence[str], responses: Sequence[Mapping[str, Any]]
) -> tuple[Ranked, dict[str, Mapping[str, Any]]]:
    """Each retriever's (doc id, score) list, and one hit per doc id (with highlights when
    any retriever returned them)."""
    ranked: Ranked = {}
    hits_by_id: dict[str, Mapping[str, Any]] = {}
    for retriever, item in zip(retrievers, responses, strict=True):
        if "error" in item:
            raise SearchError(f"{retriever} search failed: {item['error']}")
        ranking: list[tuple[str, float]] = []
        for hit in item["hits"]["hits"]:
            doc_id = hit["_source"]["doc_id"]
            score = float(hit["_score"])
            # Elasticsearch reports cosine kNN scores as (1 + cos) / 2; undo it so both
            # backends report the cosine itself.
            ranking.append((doc_id, score if retriever == TEXT_RETRIEVER else 2 * score - 1))
            known = hits_by_id.setdefault(doc_id, hit)
            if "highlight" in hit and "highlight" not in known:
                hits_by_id[doc_id] = hit
        ranked[retriever] = ranking
    return ranked, hits_by_id


def best_per_asset_rankings(ranked: Ranked, hits_by_id: Mapping[str, Mapping[str, Any]], k: int) -> Ranked:
    """ASSET scope: each vector retriever's list over assets and moments as one entry per asset
    document at its best (search.query.best_per_asset); BM25's list is the assets' own."""

    def asset_of(doc_id: str) -> str:
        return str(hits_by_id[doc_id]["_source"]["asset_id"])

    return {
        retriever: items
        if retriever == TEXT_RETRIEVER
        else best_per_asset(((asset_of(doc_id), score) for doc_id, score in items), k)
        for retriever, items in ranked.items()
    }


def search_hits(
    page: Sequence[FusedItem], hits_by_id: Mapping[str, Mapping[str, Any]]
) -> tuple[SearchHit, ...]:
    """The hits of one page of fused results."""
    hits = []
    for item in page:
        hit = hits_by_id[item.doc_id]
        source = hit["_source"]
        highlights = tuple(
            Highlight(TextField(field), fragment)
            for field in TextField
            for fragment in (hit.get("highlight") or {}).get(field.value, ())
        )
        hits.append(
            SearchHit(
                doc_id=item.doc_id,
                doc_type=DocType(source["doc_type"]),
                asset_id=source["asset_id"],
                scene_id=source.get("scene_id"),
                start_s=source.get("start_s"),
                end_s=source.get("end_s"),
                title=source.get("title", ""),
                score=item.score,
                ranks=item.ranks,
                retriever_scores=item.retriever_scores,
                relevance=item.relevance,
                highlights=highlights,
                time_codes=time_codes(highlights, functools.partial(stored_segments, source)),
            )
        )
    return tuple(hits)

"""The search, facet and delete-by-query bodies the Elasticsearch backend sends (index
creation and query clauses: :mod:`search.elasticsearch.mappings`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from search.documents import AssetDocument, DocType
from search.elasticsearch import mappings
from search.query import TEXT_RETRIEVER, FacetField, FacetQuery, SearchQuery, vector_retriever

FACET_FIELDS: Mapping[FacetField, str] = {
    FacetField.KIND: "kind",
    FacetField.TAGS: "tags.raw",
    FacetField.LABELS: "labels.raw",
    FacetField.LANGUAGE: "language",
}
# Pages of ids fetched when deleting an asset; far above the scenes of any real video.
ID_PAGE = 1000
# Candidates each shard's HNSW search visits: more than k for recall; 10 000 is the cap.
_MIN_CANDIDATES = 100
_CANDIDATE_FACTOR = 4
_MAX_CANDIDATES = 10_000
_DOCUMENT_TYPES = [DocType.ASSET.value, DocType.MOMENT.value]


def num_candidates(k: int) -> int:
    """``num_candidates`` for a kNN search returning ``k`` hits."""
    return min(_MAX_CANDIDATES, max(_MIN_CANDIDATES, _CANDIDATE_FACTOR * k))


def search_bodies(index: str, query: SearchQuery) -> tuple[list[str], list[dict[str, Any]]]:
    """Retriever names and the ``_msearch`` lines (header, body, ...) for one query."""
    where = mappings.filter_query(query.tenant_id, query.scope, query.filters)
    text = (query.text or "").strip()
    retrievers: list[str] = []
    lines: list[dict[str, Any]] = []
    highlight = mappings.highlight(text or None) if query.highlight else None
    if text:
        body: dict[str, Any] = {
            "size": query.k,
            "_source": mappings.SOURCE_FIELDS,
            "query": {"bool": {"must": [mappings.text_query(text)], "filter": [where]}},
        }
        if highlight:
            body["highlight"] = highlight
        retrievers.append(TEXT_RETRIEVER)
        lines += [{"index": index}, body]
    # ASSET scope: the assets' moments too, each asset at its best (search.query.best_per_asset).
    vector_where = (
        where
        if query.vector_doc_types == (query.scope,)
        else mappings.filter_query(query.tenant_id, query.vector_doc_types, query.filters)
    )
    for query_vector in query.vectors:
        body = {
            "size": query.vector_k,
            "_source": mappings.SOURCE_FIELDS,
            "knn": {
                "field": mappings.vector_field_name(query_vector.field),
                "query_vector": [float(value) for value in query_vector.vector.values],
                "k": query.vector_k,
                "num_candidates": num_candidates(query.vector_k),
                # Inside the knn clause: Elasticsearch pre-filters during the graph search,
                # so k matching documents come back; a filter outside would post-filter.
                "filter": vector_where,
            },
        }
        if highlight and text:
            body["highlight"] = highlight
        retrievers.append(vector_retriever(query_vector.field))
        lines += [{"index": index}, body]
    return retrievers, lines


def documents_body(
    tenant_id: str, doc_ids: Sequence[str], text: str | None, *, highlight: bool
) -> dict[str, Any]:
    """The search fetching documents of a page that no retriever returned themselves (an ASSET
    page's assets found through their moments), with the highlights a retriever's hit has."""
    body: dict[str, Any] = {
        "size": len(doc_ids),
        "_source": mappings.SOURCE_FIELDS,
        "query": {
            "bool": {"filter": [{"term": {"tenant_id": tenant_id}}, {"terms": {"doc_id": list(doc_ids)}}]}
        },
    }
    if highlight and text:
        body["highlight"] = mappings.highlight(text)
    return body


def facet_aggs(query: FacetQuery) -> dict[str, Any]:
    """One ``terms`` aggregation per asked facet."""
    return {
        field.value: {
            "terms": {
                "field": FACET_FIELDS[field],
                "size": query.size,
                # Written out: the same order the embedded backend uses.
                "order": [{"_count": "desc"}, {"_key": "asc"}],
            }
        }
        for field in query.fields
    }


def older_versions_query(assets: Sequence[AssetDocument]) -> dict[str, Any]:
    """The documents of these assets older than the version being written."""
    should = [
        {
            "bool": {
                "filter": [
                    {"term": {"tenant_id": asset.tenant_id}},
                    {"term": {"asset_id": asset.asset_id}},
                    {"terms": {"doc_type": _DOCUMENT_TYPES}},
                    {"range": {"version": {"lt": asset.version}}},
                ]
            }
        }
        for asset in assets
    ]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def asset_documents_query(tenant_id: str, asset_id: str) -> dict[str, Any]:
    """Every document (asset and moments, not the tombstone) of one asset."""
    return {
        "bool": {
            "filter": [
                {"term": {"tenant_id": tenant_id}},
                {"term": {"asset_id": asset_id}},
                {"terms": {"doc_type": _DOCUMENT_TYPES}},
            ]
        }
    }


def document_count_query() -> dict[str, Any]:
    """What a generation's document count counts (tombstones are bookkeeping)."""
    return {"terms": {"doc_type": _DOCUMENT_TYPES}}

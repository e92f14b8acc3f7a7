"""Elasticsearch index template, per-generation mappings and query clauses, as plain dicts.

Kept apart from the client code, like the search and delete bodies in
:mod:`search.elasticsearch.requests`, so every body the backend sends is built from plain
functions and asserted verbatim by ``tests/search/test_search_elasticsearch_requests.py``. Written against the
Elasticsearch 9.x REST API (the ``elasticsearch`` client major is pinned to 9 to match).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from search.backend import GenerationSpec, GenerationState
from search.documents import DocType, VectorField, metadata_token
from search.query import TEXT_FIELD_WEIGHTS, Filters, TextField

# The analyser every text field uses; `english` stems and drops Lucene's English stop set
# (the embedded backend drops the same words and stems with Porter).
TEXT_ANALYZER = "english"
# How long Elasticsearch remembers the version of a deleted document. A write with an older
# external version arriving within this window is refused, which is what stops a delayed
# index message from resurrecting a deleted asset (the default is 60s).
GC_DELETES = "1h"
# Lucene's HNSW parameters as Elasticsearch documents them for int8_hnsw (m=16,
# ef_construction=100); written out so a server default change cannot alter the index.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 100

SOURCE_FIELDS = [
    "doc_id",
    "doc_type",
    "asset_id",
    "scene_id",
    "start_s",
    "end_s",
    "title",
    "transcript_segments",
    "ocr_segments",
]


def alias_name(prefix: str) -> str:
    """The alias searches read: it points at exactly one generation index, the live one."""
    return f"{prefix}-search"


def index_name(prefix: str, generation: str) -> str:
    """The concrete index of one generation."""
    return f"{prefix}-search-gen-{generation}"


def index_pattern(prefix: str) -> str:
    """Matches every generation index (and not the alias name)."""
    return f"{prefix}-search-gen-*"


def template_name(prefix: str) -> str:
    """Name of the index template every generation index is created from."""
    return f"{prefix}-search"


def vector_field_name(field: VectorField) -> str:
    """The dense_vector field holding one vector space."""
    return f"vec_{field.value}"


def _text(ignore_above: int) -> dict[str, Any]:
    # `raw` keeps the exact value for term filters and facets (tags, labels) and exact-match
    # boosts; ignore_above stops a long transcript from producing a huge keyword term.
    return {
        "type": "text",
        "analyzer": TEXT_ANALYZER,
        "fields": {"raw": {"type": "keyword", "ignore_above": ignore_above}},
    }


def index_template(prefix: str) -> dict[str, Any]:
    """Body of ``PUT _index_template/<prefix>-search``."""
    properties: dict[str, Any] = {
        "doc_id": {"type": "keyword"},
        "doc_type": {"type": "keyword"},
        "tenant_id": {"type": "keyword"},
        "asset_id": {"type": "keyword"},
        "scene_id": {"type": "keyword"},
        "version": {"type": "long"},
        "kind": {"type": "keyword"},
        "language": {"type": "keyword"},
        "duration_s": {"type": "double"},
        "created_at": {"type": "date"},
        "start_s": {"type": "double"},
        "end_s": {"type": "double"},
        "faces_count": {"type": "integer"},
        "title": _text(512),
        "description": _text(512),
        "tags": _text(256),
        "labels": _text(256),
        "transcript": _text(256),
        "ocr": _text(256),
        # Names of the named, visible people in the asset (asset documents only), and the ids
        # of those people on every document of the asset (the person filter).
        "people": _text(256),
        "person_ids": {"type": "keyword"},
        # Stored for time codes only; never searched.
        "transcript_segments": {"type": "object", "enabled": False},
        "ocr_segments": {"type": "object", "enabled": False},
        # Arbitrary user keys without a mapping explosion; leaves are keywords.
        "user_metadata": {"type": "flattened"},
    }
    for field in VectorField:
        properties[f"{vector_field_name(field)}_model"] = {"type": "keyword"}
    return {
        "index_patterns": [index_pattern(prefix)],
        "priority": 200,
        "template": {
            "settings": {"index": {"number_of_shards": 1, "gc_deletes": GC_DELETES}},
            # strict: a field typo in the backend fails loudly instead of being mapped dynamically.
            "mappings": {"dynamic": "strict", "properties": properties},
        },
        "_meta": {"managed_by": "mediakg"},
    }


def generation_meta(spec: GenerationSpec, state: GenerationState, created_at: str) -> dict[str, Any]:
    """The ``_meta`` a generation index carries: its spec and state (the alias decides live)."""
    return {
        "mediakg": {
            "generation": spec.name,
            "state": state.value,
            "created_at": created_at,
            "vectors": {
                field.value: {"dims": vs.dims, "model_version": vs.model_version}
                for field, vs in sorted(spec.vectors.items())
            },
        }
    }


def generation_mappings(spec: GenerationSpec, state: GenerationState, created_at: str) -> dict[str, Any]:
    """Mappings sent with ``PUT <index>``; merged by Elasticsearch with the template's."""
    properties = {
        vector_field_name(field): {
            "type": "dense_vector",
            "dims": vs.dims,
            "index": True,
            "similarity": "cosine",
            # Named explicitly: since 9.1 the default for dims >= 384 is bbq_hnsw, whose
            # binary quantisation loses more recall than this project measured acceptable.
            "index_options": {"type": "int8_hnsw", "m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION},
        }
        for field, vs in sorted(spec.vectors.items())
    }
    return {"_meta": generation_meta(spec, state, created_at), "properties": properties}


def filter_query(tenant_id: str, scope: DocType | Sequence[DocType], filters: Filters) -> dict[str, Any]:
    """One bool query for the tenant, scope and filters; used inside kNN and around BM25.
    ``scope``: the document type, or several (an ASSET-scope kNN searches moments too)."""
    doc_type: dict[str, Any] = (
        {"term": {"doc_type": scope.value}}
        if isinstance(scope, DocType)
        else {"terms": {"doc_type": [doc_type.value for doc_type in scope]}}
    )
    clauses: list[dict[str, Any]] = [{"term": {"tenant_id": tenant_id}}, doc_type]
    if filters.kinds:
        clauses.append({"terms": {"kind": list(filters.kinds)}})
    if filters.languages:
        clauses.append({"terms": {"language": list(filters.languages)}})
    if filters.asset_ids:
        clauses.append({"terms": {"asset_id": list(filters.asset_ids)}})
    if filters.person_ids:
        clauses.append({"terms": {"person_ids": list(filters.person_ids)}})
    clauses.extend({"term": {"tags.raw": tag}} for tag in filters.tags)
    clauses.extend({"term": {"labels.raw": label}} for label in filters.labels)
    clauses.extend(
        {"term": {f"user_metadata.{key}": metadata_token(value)}}
        for key, value in sorted(filters.metadata.items())
    )
    duration: dict[str, float] = {}
    if filters.duration_min_s is not None:
        duration["gte"] = filters.duration_min_s
    if filters.duration_max_s is not None:
        duration["lte"] = filters.duration_max_s
    if duration:
        clauses.append({"range": {"duration_s": duration}})
    created: dict[str, str] = {}
    if filters.created_from is not None:
        created["gte"] = filters.created_from.isoformat()
    if filters.created_to is not None:
        created["lt"] = filters.created_to.isoformat()
    if created:
        clauses.append({"range": {"created_at": created}})
    query: dict[str, Any] = {"filter": clauses}
    if filters.exclude_asset_ids:
        query["must_not"] = [{"terms": {"asset_id": list(filters.exclude_asset_ids)}}]
    return {"bool": query}


def text_query(text: str) -> dict[str, Any]:
    """BM25 over every text field with the shared field weights; any word may match."""
    return {
        "multi_match": {
            "query": text,
            # most_fields adds the fields' scores, like FTS5's bm25() sums weighted columns.
            "type": "most_fields",
            "operator": "or",
            "fields": [f"{field.value}^{TEXT_FIELD_WEIGHTS[field]}" for field in TextField]
            # A person's name weighs like a label (the embedded backend searches it with them).
            + [f"people^{TEXT_FIELD_WEIGHTS[TextField.LABELS]}"],
        }
    }


def highlight(text: str | None) -> dict[str, Any]:
    """Highlight settings; ``highlight_query`` lets kNN hits show where the words occur too."""
    body: dict[str, Any] = {
        "pre_tags": ["<mark>"],
        "post_tags": ["</mark>"],
        "encoder": "html",
        "fragment_size": 120,
        "number_of_fragments": 3,
        "fields": {field.value: {} for field in TextField},
    }
    if text:
        body["highlight_query"] = text_query(text)
    return body

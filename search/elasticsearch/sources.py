"""What an asset becomes in an Elasticsearch generation: one ``_source`` per asset and moment,
under ids that carry the tenant, and the delete tombstone each generation keeps per asset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from search.backend import GenerationSpec, split_vectors
from search.documents import (
    AssetDocument,
    DocType,
    TimedText,
    Vector,
    VectorField,
    asset_doc_id,
    metadata_token,
    moment_doc_id,
    timed_rows,
    timed_texts,
)
from search.elasticsearch import mappings
from search.query import TextField


def es_id(tenant_id: str, doc_id: str) -> str:
    """The Elasticsearch ``_id`` of a document."""
    # The tenant is part of the id: two tenants can never overwrite each other's documents.
    return f"{tenant_id}:{doc_id}"


def tombstone_doc_id(asset_id: str) -> str:
    """The doc id of an asset's delete tombstone."""
    return f"t:{asset_id}"


def tombstone_source(tenant_id: str, asset_id: str, version: int) -> dict[str, Any]:
    """The tombstone of deleting ``asset_id`` at ``version``: later upserts read it first."""
    return {
        "doc_id": tombstone_doc_id(asset_id),
        "doc_type": "tombstone",
        "tenant_id": tenant_id,
        "asset_id": asset_id,
        "version": version,
    }


def _vector_fields(
    spec: GenerationSpec, doc_id: str, vectors: Mapping[VectorField, Vector]
) -> tuple[dict[str, Any], list[str]]:
    kept, skipped = split_vectors(spec, doc_id, vectors)
    fields: dict[str, Any] = {}
    for field, vector in sorted(kept.items()):
        name = mappings.vector_field_name(field)
        fields[name] = [float(value) for value in vector.values]
        fields[f"{name}_model"] = vector.model_version
    return fields, skipped


def asset_sources(
    spec: GenerationSpec, asset: AssetDocument
) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """(doc id, _source) of the asset and each moment as this generation stores them."""
    shared: dict[str, Any] = {
        "tenant_id": asset.tenant_id,
        "asset_id": asset.asset_id,
        "version": asset.version,
        "kind": asset.kind,
        "language": asset.language,
        "duration_s": asset.duration_s,
        "created_at": asset.created_at.isoformat(),
        "title": asset.title,
        "tags": list(asset.tags),
        "person_ids": list(asset.person_ids),
        "user_metadata": {key: metadata_token(value) for key, value in sorted(asset.user_metadata.items())},
    }
    skipped: list[str] = []
    doc_id = asset_doc_id(asset.asset_id)
    vectors, dropped = _vector_fields(spec, doc_id, asset.vectors)
    skipped.extend(dropped)
    out = [
        (
            doc_id,
            {
                "doc_id": doc_id,
                "doc_type": DocType.ASSET.value,
                **shared,
                "scene_id": None,
                "start_s": None,
                "end_s": None,
                "faces_count": asset.faces_count,
                "description": asset.description,
                "labels": list(asset.labels),
                "people": list(asset.people),
                "transcript": [item.text for item in asset.transcript],
                "ocr": [item.text for item in asset.ocr],
                "transcript_segments": timed_rows(asset.transcript),
                "ocr_segments": timed_rows(asset.ocr),
                **vectors,
            },
        )
    ]
    for moment in asset.moments:
        doc_id = moment_doc_id(asset.asset_id, moment.scene_id)
        vectors, dropped = _vector_fields(spec, doc_id, moment.vectors)
        skipped.extend(dropped)
        out.append(
            (
                doc_id,
                {
                    "doc_id": doc_id,
                    "doc_type": DocType.MOMENT.value,
                    **shared,
                    "scene_id": moment.scene_id,
                    "start_s": moment.start_s,
                    "end_s": moment.end_s,
                    "faces_count": moment.faces_count,
                    "description": moment.title,
                    "labels": list(moment.labels),
                    "people": list(moment.people),
                    "transcript": [item.text for item in moment.transcript],
                    "ocr": [item.text for item in moment.ocr],
                    "transcript_segments": timed_rows(moment.transcript),
                    "ocr_segments": timed_rows(moment.ocr),
                    **vectors,
                },
            )
        )
    return out, skipped


def stored_segments(source: Mapping[str, Any], field: TextField) -> tuple[TimedText, ...]:
    """The timed texts of ``field`` stored in a hit's ``_source``."""
    return timed_texts(source.get("transcript_segments" if field is TextField.TRANSCRIPT else "ocr_segments"))

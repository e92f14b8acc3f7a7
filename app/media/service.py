"""Writing analysis outputs. Each function replaces the caller stage's own earlier rows for
the same asset and model (name, version) and inserts the new ones, inside the caller's
transaction: a redelivered stage message produces the same rows, never duplicates, and rows
of other model versions (an index generation still being served) are left alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.enums import DetectionKind, Modality, OwnerType, SimilarityKind
from app.media import repository
from app.media.models import AudioFingerprint, Detection, Embedding, Scene, SimilarityEdge, TranscriptSegment


def vector_to_bytes(vector: Sequence[float] | np.ndarray[Any, Any]) -> bytes:
    """Little-endian float32 bytes of a vector (the storage format of Embedding.vector)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def vector_from_bytes(data: bytes) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The float32 vector stored in ``data``."""
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


_Row = TypeVar("_Row", Scene, TranscriptSegment, Detection, Embedding, SimilarityEdge, AudioFingerprint)


async def _replace(session: AsyncSession, rows: list[_Row], model: Any, **scope: Any) -> list[_Row]:
    """Delete the ``model`` rows of ``scope`` (``repository.delete_outputs``), insert ``rows``,
    flush: one stage's output swap."""
    await repository.delete_outputs(session, model, **scope)
    session.add_all(rows)
    await session.flush()
    return rows


def _check_kinds(rows: Sequence[Detection | SimilarityEdge], kinds: Sequence[Any], what: str) -> None:
    # A row of a kind the delete did not cover would survive the next replacement: refuse it.
    for row in rows:
        if row.kind not in kinds:
            raise ValueError(f"{what} kind {row.kind} is not among the replaced kinds {list(kinds)}")


async def replace_scenes(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    model_name: str,
    model_version: str,
    scenes: Sequence[dict[str, Any]],
) -> list[Scene]:
    """Replace the asset's scenes from this model; ``scenes`` hold Scene column values."""
    stamp = {
        "tenant_id": tenant_id,
        "asset_id": asset_id,
        "model_name": model_name,
        "model_version": model_version,
    }
    rows = [Scene(**stamp, **values) for values in scenes]
    return await _replace(
        session, rows, Scene, asset_id=asset_id, model_name=model_name, model_version=model_version
    )


async def replace_segments(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    model_name: str,
    model_version: str,
    segments: Sequence[dict[str, Any]],
    replaces: Sequence[tuple[str, str]] = (),
) -> list[TranscriptSegment]:
    """Replace the asset's transcript segments (or text chunks) from this model, and those of
    the other models (name, version) in ``replaces``: a transcript routed to another speech
    model (an accurate reprocess after a fast first pass) supersedes the earlier one."""
    stamp = {
        "tenant_id": tenant_id,
        "asset_id": asset_id,
        "model_name": model_name,
        "model_version": model_version,
    }
    rows = [TranscriptSegment(**stamp, **values) for values in segments]
    for name, version in replaces:
        if (name, version) != (model_name, model_version):
            await repository.delete_outputs(
                session, TranscriptSegment, asset_id=asset_id, model_name=name, model_version=version
            )
    return await _replace(
        session,
        rows,
        TranscriptSegment,
        asset_id=asset_id,
        model_name=model_name,
        model_version=model_version,
    )


async def replace_detections(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    kinds: Sequence[DetectionKind],
    model_name: str,
    model_version: str,
    detections: Sequence[dict[str, Any]],
) -> list[Detection]:
    """Replace the asset's detections of ``kinds`` from this model (ocr owns TEXT, detect the rest)."""
    stamp = {
        "tenant_id": tenant_id,
        "asset_id": asset_id,
        "model_name": model_name,
        "model_version": model_version,
    }
    rows = [Detection(**stamp, **values) for values in detections]
    _check_kinds(rows, kinds, "detection")
    return await _replace(
        session,
        rows,
        Detection,
        asset_id=asset_id,
        model_name=model_name,
        model_version=model_version,
        kinds=kinds,
    )


async def replace_embeddings(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    modality: Modality,
    model_name: str,
    model_version: str,
    embeddings: Sequence[tuple[OwnerType, uuid.UUID, np.ndarray[Any, Any], str | None]],
) -> list[Embedding]:
    """Replace the asset's ``modality`` vectors from this model.

    Each item is (owner type, owner id, vector, sha256 of the embedded content or None).
    """
    stamp = {
        "tenant_id": tenant_id,
        "asset_id": asset_id,
        "model_name": model_name,
        "model_version": model_version,
    }
    rows = [
        Embedding(
            **stamp,
            owner_type=owner_type,
            owner_id=owner_id,
            modality=modality,
            dimension=int(np.asarray(vector).shape[-1]),
            vector=vector_to_bytes(vector),
            content_sha256=content_sha,
        )
        for owner_type, owner_id, vector, content_sha in embeddings
    ]
    return await _replace(
        session,
        rows,
        Embedding,
        asset_id=asset_id,
        model_name=model_name,
        model_version=model_version,
        modality=modality,
    )


async def replace_asset_edges(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    kinds: Sequence[SimilarityKind],
    model_name: str,
    model_version: str,
    edges: Sequence[dict[str, Any]],
) -> list[SimilarityEdge]:
    """Replace the similarity edges of ``kinds`` from this model that touch the asset (or its
    scenes) at EITHER end; ``edges`` name both ends.

    Edges are stored once per pair: whichever of two assets is processed later owns the pair,
    so its earlier row must go whichever end it was stored from.
    """
    rows = [
        SimilarityEdge(tenant_id=tenant_id, model_name=model_name, model_version=model_version, **values)
        for values in edges
    ]
    _check_kinds(rows, kinds, "edge")
    for row in rows:
        if asset_id not in (row.source_asset_id, row.target_asset_id):
            raise ValueError("every edge must touch the asset whose edges are replaced")
    return await _replace(
        session,
        rows,
        SimilarityEdge,
        asset_id=asset_id,
        model_name=model_name,
        model_version=model_version,
        kinds=kinds,
    )


async def replace_fingerprint(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    model_name: str,
    model_version: str,
    duration_s: float,
    fingerprint: bytes,
) -> AudioFingerprint:
    """Replace the asset's audio fingerprint from this model."""
    row = AudioFingerprint(
        tenant_id=tenant_id,
        asset_id=asset_id,
        model_name=model_name,
        model_version=model_version,
        duration_s=duration_s,
        fingerprint=fingerprint,
    )
    await _replace(
        session,
        [row],
        AudioFingerprint,
        asset_id=asset_id,
        model_name=model_name,
        model_version=model_version,
    )
    return row

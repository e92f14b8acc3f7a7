"""The statements the pipeline's stages read the media rows with: an asset's scenes of one
scene model, its stored vectors, the newest outputs of an upstream stage, and a tenant's
live vectors for similarity. Rows come back as the columns the stages need, no ORM objects
where a tuple does (similarity reads every vector of a tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import TypeVar

from sqlalchemy import ColumnElement, Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.models import Asset
from app.core.enums import AssetKind, DetectionKind, JobStatus, Modality, OwnerType
from app.jobs.models import Job
from app.media.models import AudioFingerprint, Detection, Embedding, Scene, TranscriptSegment

OutputT = TypeVar("OutputT", TranscriptSegment, Detection)


async def scenes_of_model(
    session: AsyncSession, *, asset_id: uuid.UUID, model_name: str, model_version: str
) -> Sequence[Row[uuid.UUID, int, float, float, str | None, str | None]]:
    """(id, ordinal, start_s, end_s, keyframe_blob_key, phash) of the asset's scenes of one
    scene model, in order."""
    rows = await session.execute(
        select(Scene.id, Scene.ordinal, Scene.start_s, Scene.end_s, Scene.keyframe_blob_key, Scene.phash)
        .where(
            Scene.asset_id == asset_id, Scene.model_name == model_name, Scene.model_version == model_version
        )
        .order_by(Scene.ordinal)
    )
    return rows.all()


async def content_vectors(
    session: AsyncSession, *, asset_id: uuid.UUID
) -> Sequence[Row[Modality, str, str, str | None, bytes]]:
    """(modality, model name, version, content sha256, vector bytes) of the asset's vectors
    that record what they embedded."""
    rows = await session.execute(
        select(
            Embedding.modality,
            Embedding.model_name,
            Embedding.model_version,
            Embedding.content_sha256,
            Embedding.vector,
        ).where(Embedding.asset_id == asset_id, Embedding.content_sha256.is_not(None))
    )
    return rows.all()


async def _latest_version_rows(
    session: AsyncSession, model: type[OutputT], where: list[ColumnElement[bool]]
) -> list[OutputT]:
    """Rows of ``model`` matching ``where`` from the model version written last (an upgrade
    leaves the previous version's rows in place until its index generation is retired)."""
    newest = await session.execute(
        select(model.model_name, model.model_version)
        .where(*where)
        .group_by(model.model_name, model.model_version)
        .order_by(func.max(model.created_at).desc())
        .limit(1)
    )
    pick = newest.first()
    if pick is None:
        return []
    rows = await session.scalars(
        select(model).where(*where, model.model_name == pick[0], model.model_version == pick[1])
    )
    return list(rows)


async def latest_segments(session: AsyncSession, *, asset_id: uuid.UUID) -> list[TranscriptSegment]:
    """The asset's transcript segments (or text chunks) of the newest model version."""
    return await _latest_version_rows(session, TranscriptSegment, [TranscriptSegment.asset_id == asset_id])


async def segment_spans(
    session: AsyncSession, *, asset_id: uuid.UUID
) -> Sequence[Row[uuid.UUID, float, float, uuid.UUID | None]]:
    """(id, start_s, end_s, scene_id) of the asset's transcript segments, every model version."""
    rows = await session.execute(
        select(
            TranscriptSegment.id,
            TranscriptSegment.start_s,
            TranscriptSegment.end_s,
            TranscriptSegment.scene_id,
        ).where(TranscriptSegment.asset_id == asset_id)
    )
    return rows.all()


async def transcript_of(session: AsyncSession, *, asset_id: uuid.UUID) -> Sequence[TranscriptSegment]:
    """The asset's transcript segments in order (what an escalation follow-up re-reads)."""
    rows = await session.scalars(
        select(TranscriptSegment)
        .where(TranscriptSegment.asset_id == asset_id)
        .order_by(TranscriptSegment.start_s, TranscriptSegment.ordinal)
    )
    return rows.all()


async def set_segment_scenes(session: AsyncSession, links: dict[uuid.UUID, uuid.UUID | None]) -> None:
    """Point each segment (key) at its scene (value): one UPDATE per distinct scene."""
    by_scene: dict[uuid.UUID | None, list[uuid.UUID]] = {}
    for segment_id, scene_id in links.items():
        by_scene.setdefault(scene_id, []).append(segment_id)
    for scene_id, segment_ids in by_scene.items():
        await session.execute(
            update(TranscriptSegment).where(TranscriptSegment.id.in_(segment_ids)).values(scene_id=scene_id)
        )


async def latest_detections(
    session: AsyncSession, *, asset_id: uuid.UUID, kind: DetectionKind
) -> list[Detection]:
    """The asset's detections of ``kind`` of the newest model version (each kind is written by
    its own stage, on its own model version)."""
    return await _latest_version_rows(
        session, Detection, [Detection.asset_id == asset_id, Detection.kind == kind]
    )


def _live(tenant_id: uuid.UUID, asset_ids: Collection[uuid.UUID] | None = None) -> list[ColumnElement[bool]]:
    where = [Asset.tenant_id == tenant_id, Asset.deleted_at.is_(None)]
    if asset_ids is not None:
        where.append(Asset.id.in_(list(asset_ids)))
    return where


async def count_live_units(session: AsyncSession, *, tenant_id: uuid.UUID, text: bool) -> int:
    """How many scenes (``text=False``: of assets with a timeline) or text chunks (``text=True``)
    the tenant's live assets hold: what a full similarity scan reads."""
    if text:
        query = (
            select(func.count())
            .select_from(TranscriptSegment)
            .join(Asset, Asset.id == TranscriptSegment.asset_id)
            .where(*_live(tenant_id), Asset.kind == AssetKind.TEXT)
        )
    else:
        query = (
            select(func.count())
            .select_from(Scene)
            .join(Asset, Asset.id == Scene.asset_id)
            .where(*_live(tenant_id))
        )
    return int(await session.scalar(query) or 0)


async def assets_in_flight(session: AsyncSession, *, tenant_id: uuid.UUID) -> set[uuid.UUID]:
    """The tenant's assets with a job queued or running (their index documents may lag)."""
    rows = await session.scalars(
        select(Job.asset_id).where(
            Job.tenant_id == tenant_id, Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING))
        )
    )
    return set(rows)


def _of_model(modality: Modality, model_name: str, model_version: str) -> list[ColumnElement[bool]]:
    return [
        Embedding.modality == modality,
        Embedding.model_name == model_name,
        Embedding.model_version == model_version,
    ]


async def live_scene_vectors(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    modality: Modality,
    model_name: str,
    model_version: str,
    asset_ids: Collection[uuid.UUID] | None = None,
) -> Sequence[Row[uuid.UUID, uuid.UUID, AssetKind, float, float, bytes, str | None]]:
    """(scene id, asset id, asset kind, start_s, end_s, vector bytes, phash) of every scene
    vector of the tenant's live assets (of ``asset_ids`` only, when given) in ``modality`` from
    one model, by asset and time."""
    rows = await session.execute(
        select(
            Embedding.owner_id,
            Embedding.asset_id,
            Asset.kind,
            Scene.start_s,
            Scene.end_s,
            Embedding.vector,
            Scene.phash,
        )
        .join(Scene, Scene.id == Embedding.owner_id)
        .join(Asset, Asset.id == Embedding.asset_id)
        .where(
            Embedding.tenant_id == tenant_id,
            Embedding.owner_type == OwnerType.SCENE,
            *_of_model(modality, model_name, model_version),
            *_live(tenant_id, asset_ids),
        )
        .order_by(Embedding.asset_id, Scene.start_s)
    )
    return rows.all()


async def live_timed_scenes(
    session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Collection[uuid.UUID] | None = None
) -> Sequence[Row[uuid.UUID, uuid.UUID, AssetKind, float, float]]:
    """(scene id, asset id, asset kind, start_s, end_s) of every scene of the tenant's live
    assets (of ``asset_ids`` only, when given) that have a timeline (all kinds but text), by
    asset and time."""
    rows = await session.execute(
        select(Scene.id, Scene.asset_id, Asset.kind, Scene.start_s, Scene.end_s)
        .join(Asset, Asset.id == Scene.asset_id)
        .where(*_live(tenant_id, asset_ids), Asset.kind != AssetKind.TEXT)
        .order_by(Scene.asset_id, Scene.start_s)
    )
    return rows.all()


async def live_segment_vectors(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    model_name: str,
    model_version: str,
    asset_ids: Collection[uuid.UUID] | None = None,
) -> Sequence[Row[uuid.UUID, float, float, bytes]]:
    """(asset id, start_s, end_s, vector bytes) of the text vectors of the transcript segments
    of the tenant's live assets (of ``asset_ids`` only, when given) with a timeline (all kinds
    but text) from one model."""
    rows = await session.execute(
        select(Embedding.asset_id, TranscriptSegment.start_s, TranscriptSegment.end_s, Embedding.vector)
        .join(TranscriptSegment, TranscriptSegment.id == Embedding.owner_id)
        .join(Asset, Asset.id == Embedding.asset_id)
        .where(
            Embedding.owner_type == OwnerType.SEGMENT,
            *_of_model(Modality.TEXT, model_name, model_version),
            *_live(tenant_id, asset_ids),
            Asset.kind != AssetKind.TEXT,
        )
    )
    return rows.all()


async def live_chunk_vectors(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    model_name: str,
    model_version: str,
    asset_ids: Collection[uuid.UUID] | None = None,
) -> Sequence[Row[uuid.UUID, bytes]]:
    """(asset id, vector bytes) of the text vectors of the chunks of the tenant's live text
    assets (of ``asset_ids`` only, when given) from one model."""
    rows = await session.execute(
        select(Embedding.asset_id, Embedding.vector)
        .join(Asset, Asset.id == Embedding.asset_id)
        .where(
            Embedding.owner_type == OwnerType.SEGMENT,
            *_of_model(Modality.TEXT, model_name, model_version),
            *_live(tenant_id, asset_ids),
            Asset.kind == AssetKind.TEXT,
        )
    )
    return rows.all()


async def live_fingerprints(
    session: AsyncSession, *, tenant_id: uuid.UUID, kind: AssetKind, model_name: str, model_version: str
) -> Sequence[Row[uuid.UUID, float, bytes]]:
    """(asset id, duration_s, fingerprint bytes) of every audio fingerprint of the tenant's live
    assets of ``kind`` from one model, by asset."""
    rows = await session.execute(
        select(AudioFingerprint.asset_id, AudioFingerprint.duration_s, AudioFingerprint.fingerprint)
        .join(Asset, Asset.id == AudioFingerprint.asset_id)
        .where(
            AudioFingerprint.tenant_id == tenant_id,
            AudioFingerprint.model_name == model_name,
            AudioFingerprint.model_version == model_version,
            Asset.kind == kind,
            *_live(tenant_id),
        )
        .order_by(AudioFingerprint.asset_id)
    )
    return rows.all()

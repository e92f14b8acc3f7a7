"""SQL for the media graph: scenes, transcript segments, detections, vectors and similarity
edges, read for many parents in ONE statement each (``app.core.pagination``), and the stages'
output swaps.

Every read starts from a base statement (``_rows``, ``_edges``): the caller's tenant, and only
rows of live assets (an edge needs both ends live), so a deleted asset's analysis vanishes
from every list, lookup and cluster at once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.assets.duplicate_repository import declared_not_duplicate, is_marked_duplicate
from app.assets.repository import contains_pattern, is_live
from app.core.enums import AssetKind, DetectionKind, Modality, OwnerType, SimilarityKind
from app.core.pagination import (
    Ordering,
    Page,
    PageRows,
    ValueKind,
    pages_of_anchors,
    pages_per_anchor,
    rows_by_id,
)
from app.media.models import Detection, Embedding, Scene, SimilarityEdge, TranscriptSegment
from app.people.models import FaceTrack

_Row = TypeVar("_Row", Scene, TranscriptSegment, Detection, Embedding)

SCENE_ORDER = Ordering("scene", ((Scene.start_s, ValueKind.FLOAT), (Scene.id, ValueKind.UUID)), False)
SEGMENT_ORDER = Ordering(
    "segment",
    ((TranscriptSegment.start_s, ValueKind.FLOAT), (TranscriptSegment.id, ValueKind.UUID)),
    False,
)
DETECTION_ORDER = Ordering(
    "detection", ((Detection.time_s, ValueKind.FLOAT), (Detection.id, ValueKind.UUID)), False
)
EDGE_ORDER = Ordering(
    "similarity", ((SimilarityEdge.score, ValueKind.FLOAT), (SimilarityEdge.id, ValueKind.UUID)), True
)


class SegmentRow(Protocol):
    """A transcript segment as readers see it: the ORM object, or a row of its table's columns
    (the pages per parent: no ORM object per segment of a page)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def asset_id(self) -> uuid.UUID: ...
    @property
    def scene_id(self) -> uuid.UUID | None: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...
    @property
    def text(self) -> str: ...
    @property
    def language(self) -> str | None: ...
    @property
    def confidence(self) -> float | None: ...
    @property
    def words(self) -> list[dict[str, Any]]: ...
    @property
    def produced_by(self) -> str | None: ...
    @property
    def model_name(self) -> str: ...
    @property
    def model_version(self) -> str: ...


class DetectionRow(Protocol):
    """A detection as readers see it: the ORM object, or a row of its table's columns (the
    pages per parent)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def asset_id(self) -> uuid.UUID: ...
    @property
    def scene_id(self) -> uuid.UUID | None: ...
    @property
    def kind(self) -> DetectionKind: ...
    @property
    def time_s(self) -> float: ...
    @property
    def label(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def box_x(self) -> float | None: ...
    @property
    def box_y(self) -> float | None: ...
    @property
    def box_w(self) -> float | None: ...
    @property
    def box_h(self) -> float | None: ...
    @property
    def model_name(self) -> str: ...
    @property
    def model_version(self) -> str: ...


def _rows(model: type[_Row], tenant_id: uuid.UUID) -> Select[_Row]:
    """The base of every read of an asset's analysis rows: the tenant's, of live assets."""
    return select(model).where(model.tenant_id == tenant_id, is_live(model.asset_id))


def _edges(tenant_id: uuid.UUID, kinds: Iterable[AssetKind] = ()) -> Select[SimilarityEdge]:
    """The base of every read of similarity edges: the tenant's, both ends' assets live (and of
    ``kinds``, when given); a near-duplicate edge of a pair an editor declared not to be
    duplicates is never read (a reprocess writes it again; this keeps it unsuggested)."""
    return select(SimilarityEdge).where(
        SimilarityEdge.tenant_id == tenant_id,
        is_live(SimilarityEdge.source_asset_id, kinds),
        is_live(SimilarityEdge.target_asset_id, kinds),
        or_(
            SimilarityEdge.kind != SimilarityKind.NEAR_DUPLICATE,
            ~declared_not_duplicate(SimilarityEdge.source_asset_id, SimilarityEdge.target_asset_id),
        ),
    )


async def scenes_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Scene]:
    """Scenes of the tenant's live assets, by id."""
    return await rows_by_id(session, _rows(Scene, tenant_id), Scene.id, ids)


async def segments_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, TranscriptSegment]:
    """Transcript segments of the tenant's live assets, by id."""
    return await rows_by_id(session, _rows(TranscriptSegment, tenant_id), TranscriptSegment.id, ids)


async def detections_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Detection]:
    """Detections of the tenant's live assets, by id."""
    return await rows_by_id(session, _rows(Detection, tenant_id), Detection.id, ids)


async def edges_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, SimilarityEdge]:
    """Similarity edges of the tenant whose both ends are live assets, by id."""
    return await rows_by_id(session, _edges(tenant_id), SimilarityEdge.id, ids)


# --- pages per parent ----------------------------------------------------------------------


async def scenes_of_assets(
    session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Sequence[uuid.UUID], page: Page
) -> dict[uuid.UUID, PageRows[Scene]]:
    """Each asset's scenes in time order."""
    inner = _rows(Scene, tenant_id).where(Scene.asset_id.in_(asset_ids))
    return await pages_of_anchors(session, Scene, inner, Scene.asset_id, asset_ids, SCENE_ORDER, page)


@dataclass(frozen=True, slots=True)
class SegmentFilter:
    """Which transcript segments: overlapping [start_s, end_s), containing ``text``."""

    start_s: float | None = None
    end_s: float | None = None
    text: str | None = None


def _segment_conditions(f: SegmentFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    # Overlap, not containment: a sentence that starts before the range but runs into it is
    # what an editor scrubbing to that range hears.
    if f.start_s is not None:
        conditions.append(TranscriptSegment.end_s > f.start_s)
    if f.end_s is not None:
        conditions.append(TranscriptSegment.start_s < f.end_s)
    if f.text:
        conditions.append(TranscriptSegment.text.ilike(contains_pattern(f.text), escape="\\"))
    return conditions


async def segments_of_assets(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_ids: Sequence[uuid.UUID],
    page: Page,
    where: SegmentFilter,
) -> dict[uuid.UUID, PageRows[SegmentRow]]:
    """Each asset's transcript segments in time order."""
    inner = _rows(TranscriptSegment, tenant_id).where(
        TranscriptSegment.asset_id.in_(asset_ids), *_segment_conditions(where)
    )
    return await pages_of_anchors(
        session,
        TranscriptSegment,
        inner,
        TranscriptSegment.asset_id,
        asset_ids,
        SEGMENT_ORDER,
        page,
        as_rows=True,
    )


async def segments_of_scenes(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    scene_ids: Sequence[uuid.UUID],
    page: Page,
    where: SegmentFilter,
) -> dict[uuid.UUID, PageRows[SegmentRow]]:
    """For each scene, the segments of its asset that overlap the scene's time span."""
    # By time, not by the optional scene_id column: speech is transcribed per asset and a
    # sentence spanning a cut belongs to both scenes.
    inner = (
        _rows(TranscriptSegment, tenant_id)
        .join(
            Scene,
            and_(
                Scene.asset_id == TranscriptSegment.asset_id,
                TranscriptSegment.start_s < Scene.end_s,
                TranscriptSegment.end_s > Scene.start_s,
            ),
        )
        .where(Scene.id.in_(scene_ids), *_segment_conditions(where))
    )
    return await pages_of_anchors(
        session, TranscriptSegment, inner, Scene.id, scene_ids, SEGMENT_ORDER, page, as_rows=True
    )


@dataclass(frozen=True, slots=True)
class DetectionFilter:
    """Which detections: of these kinds, with this label (case-insensitive), this confident,
    seen in [start_s, end_s)."""

    kinds: tuple[DetectionKind, ...] = ()
    label: str | None = None
    min_confidence: float | None = None
    start_s: float | None = None
    end_s: float | None = None


def _detection_conditions(f: DetectionFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    # A detection is an instant (the frame it was found in): half-open like the transcript
    # ranges, so consecutive ranges (0-60, 60-120) never both list one detection.
    if f.start_s is not None:
        conditions.append(Detection.time_s >= f.start_s)
    if f.end_s is not None:
        conditions.append(Detection.time_s < f.end_s)
    if f.kinds:
        conditions.append(Detection.kind.in_(f.kinds))
    if f.label is not None:
        conditions.append(func.lower(Detection.label) == f.label.lower())
    if f.min_confidence is not None:
        conditions.append(Detection.confidence >= f.min_confidence)
    return conditions


async def detections_of_assets(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_ids: Sequence[uuid.UUID],
    page: Page,
    where: DetectionFilter,
) -> dict[uuid.UUID, PageRows[DetectionRow]]:
    """Each asset's detections in time order."""
    inner = _rows(Detection, tenant_id).where(
        Detection.asset_id.in_(asset_ids), *_detection_conditions(where)
    )
    return await pages_of_anchors(
        session, Detection, inner, Detection.asset_id, asset_ids, DETECTION_ORDER, page, as_rows=True
    )


async def detections_of_scenes(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    scene_ids: Sequence[uuid.UUID],
    page: Page,
    where: DetectionFilter,
) -> dict[uuid.UUID, PageRows[DetectionRow]]:
    """Each scene's detections (those the detect stage attributed to it) in time order."""
    inner = _rows(Detection, tenant_id).where(
        Detection.scene_id.in_(scene_ids), *_detection_conditions(where)
    )
    return await pages_of_anchors(
        session, Detection, inner, Detection.scene_id, scene_ids, DETECTION_ORDER, page, as_rows=True
    )


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One similarity edge seen from one of its ends: ``other_id`` is the far end."""

    edge: SimilarityEdge
    other_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class EdgeFilter:
    """Which similarity edges: of these kinds, scoring at least ``min_score``."""

    kinds: tuple[SimilarityKind, ...] = ()
    min_score: float | None = None


async def neighbours(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    owner_type: OwnerType,
    owner_ids: Sequence[uuid.UUID],
    page: Page,
    where: EdgeFilter,
) -> dict[uuid.UUID, PageRows[Neighbour]]:
    """For each asset (or scene), its similarity edges, best score first, read in both
    directions: an edge is stored once per pair and is similar from either end."""

    def direction(near: Any, far: Any, near_type: Any, far_type: Any) -> Select[Any]:
        stmt = _edges(tenant_id).add_columns(near.label("anchor_id"), far.label("other_id"))
        stmt = stmt.where(near_type == owner_type, far_type == owner_type, near.in_(owner_ids))
        if where.kinds:
            stmt = stmt.where(SimilarityEdge.kind.in_(where.kinds))
        if where.min_score is not None:
            stmt = stmt.where(SimilarityEdge.score >= where.min_score)
        if page.after is not None:
            stmt = stmt.where(EDGE_ORDER.after(page.after))
        return stmt

    both = union_all(
        direction(
            SimilarityEdge.source_id,
            SimilarityEdge.target_id,
            SimilarityEdge.source_type,
            SimilarityEdge.target_type,
        ),
        direction(
            SimilarityEdge.target_id,
            SimilarityEdge.source_id,
            SimilarityEdge.target_type,
            SimilarityEdge.source_type,
        ),
    ).subquery()
    rank = func.row_number().over(
        partition_by=both.c.anchor_id, order_by=[both.c.score.desc(), both.c.id.desc()]
    )
    ranked = select(both, rank.label("rank_in_anchor")).subquery()
    edge = aliased(SimilarityEdge, ranked)
    stmt = (
        select(edge, ranked.c.anchor_id, ranked.c.other_id)
        .where(ranked.c.rank_in_anchor <= page.first + 1)
        .order_by(ranked.c.anchor_id, ranked.c.rank_in_anchor)
    )
    grouped: dict[uuid.UUID, list[Neighbour]] = defaultdict(list)
    for row, anchor_id, other_id in await session.execute(stmt):
        grouped[anchor_id].append(Neighbour(edge=row, other_id=other_id))
    return pages_per_anchor(grouped, owner_ids, page)


# --- lookups -------------------------------------------------------------------------------


async def tenant_owns_blob(session: AsyncSession, *, tenant_id: uuid.UUID, key: str) -> bool:
    """Whether ``key`` is a keyframe or thumbnail of one of the tenant's live scenes, or the
    face crop of one of its live assets' face tracks."""
    owned = _rows(Scene, tenant_id).where(
        or_(Scene.keyframe_blob_key == key, Scene.thumbnail_blob_key == key)
    )
    crop = select(FaceTrack.id).where(
        FaceTrack.tenant_id == tenant_id, FaceTrack.crop_blob_key == key, is_live(FaceTrack.asset_id)
    )
    return bool(await session.scalar(select(or_(owned.exists(), crop.exists()))))


async def referenced_blob_keys(session: AsyncSession, *, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` a scene of any tenant, of a deleted asset or not, has as its keyframe
    or thumbnail, or a face track as its crop (the blob sweep's question)."""
    frames = select(Scene.keyframe_blob_key).where(Scene.keyframe_blob_key.in_(keys))
    thumbs = select(Scene.thumbnail_blob_key).where(Scene.thumbnail_blob_key.in_(keys))
    crops = select(FaceTrack.crop_blob_key).where(FaceTrack.crop_blob_key.in_(keys))
    rows = await session.scalars(frames.union(thumbs, crops))
    return {key for key in rows if key is not None}


async def asset_embeddings(
    session: AsyncSession, *, tenant_id: uuid.UUID, asset_id: uuid.UUID, modalities: Sequence[Modality]
) -> list[Embedding]:
    """The vectors an asset owns itself (not its scenes' or segments') in these modalities, of
    every model version stored (the caller picks the version it can compare with)."""
    stmt = _rows(Embedding, tenant_id).where(
        Embedding.asset_id == asset_id,
        Embedding.owner_type == OwnerType.ASSET,
        Embedding.owner_id == asset_id,
        Embedding.modality.in_(modalities),
    )
    return list(await session.scalars(stmt))


async def near_duplicate_edges(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kinds: Sequence[AssetKind],
    min_score: float | None,
    include_duplicates: bool = False,
) -> list[SimilarityEdge]:
    """The tenant's asset-to-asset near_duplicate edges whose both ends are live assets of
    ``kinds`` (any kind when empty), scoring at least ``min_score`` (one statement). An asset
    marked a duplicate is resolved: its edges link nothing (unless ``include_duplicates``)."""
    # A deleted asset leaves every cluster at once: its edges stop linking anything.
    stmt = _edges(tenant_id, kinds).where(
        SimilarityEdge.kind == SimilarityKind.NEAR_DUPLICATE,
        SimilarityEdge.source_type == OwnerType.ASSET,
        SimilarityEdge.target_type == OwnerType.ASSET,
        SimilarityEdge.source_asset_id != SimilarityEdge.target_asset_id,
    )
    if not include_duplicates:
        stmt = stmt.where(
            ~is_marked_duplicate(SimilarityEdge.source_asset_id),
            ~is_marked_duplicate(SimilarityEdge.target_asset_id),
        )
    if min_score is not None:
        stmt = stmt.where(SimilarityEdge.score >= min_score)
    return list(await session.scalars(stmt))


async def edges_touching(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_ids: Sequence[uuid.UUID],
    kinds: Sequence[SimilarityKind],
) -> list[SimilarityEdge]:
    """The tenant's edges of ``kinds`` between one of ``asset_ids`` and ANOTHER asset (either
    end; both live), best first (one statement)."""
    stmt = (
        _edges(tenant_id)
        .where(
            SimilarityEdge.kind.in_(kinds),
            SimilarityEdge.source_asset_id != SimilarityEdge.target_asset_id,
            or_(SimilarityEdge.source_asset_id.in_(asset_ids), SimilarityEdge.target_asset_id.in_(asset_ids)),
        )
        .order_by(SimilarityEdge.score.desc(), SimilarityEdge.id)
    )
    return list(await session.scalars(stmt))


async def detection_terms(
    session: AsyncSession, *, tenant_id: uuid.UUID, kind: DetectionKind, min_confidence: float
) -> list[tuple[uuid.UUID, str]]:
    """Distinct (asset id, text) of the tenant's live detections of ``kind`` at least this
    confident: the corpus relations weigh shared text and labels over (one statement)."""
    stmt = (
        _rows(Detection, tenant_id)
        .with_only_columns(Detection.asset_id, Detection.label)
        .where(Detection.kind == kind, Detection.confidence >= min_confidence)
        .distinct()
    )
    return [(asset_id, label) for asset_id, label in await session.execute(stmt)]


# --- writes --------------------------------------------------------------------------------


async def delete_outputs(
    session: AsyncSession,
    model: Any,
    *,
    asset_id: uuid.UUID,
    model_name: str,
    model_version: str,
    kinds: Sequence[DetectionKind] | Sequence[SimilarityKind] | None = None,
    modality: Modality | None = None,
) -> None:
    """Delete the asset's ``model`` rows written by this model version (of ``kinds`` or
    ``modality`` only, when given): the first half of a stage's output swap. Similarity edges
    are the asset's at EITHER end (a pair is stored once, from whichever end ran later)."""
    of_asset = (
        or_(SimilarityEdge.source_asset_id == asset_id, SimilarityEdge.target_asset_id == asset_id)
        if model is SimilarityEdge
        else model.asset_id == asset_id
    )
    conditions = [of_asset, model.model_name == model_name, model.model_version == model_version]
    if kinds is not None:
        conditions.append(model.kind.in_(list(kinds)))
    if modality is not None:
        conditions.append(model.modality == modality)
    await session.execute(delete(model).where(*conditions))

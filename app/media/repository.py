"""Read queries of the media graph, shaped for batching: every relation is read for many
parents in ONE statement (a window function keeps the first N rows per parent), so the API's
loaders issue a fixed number of statements however many rows a query touches.

Pagination is keyset-based: a page is the ``first`` rows strictly after the ordering values
of the last row seen, so pages stay stable while rows are inserted and cost the same at any
depth. Every query filters by tenant, even below a parent that was already checked.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql import type_coerce

from app.assets.models import Asset
from app.audit.models import AuditEvent
from app.core.enums import (
    AssetKind,
    AssetStatus,
    DetectionKind,
    JobStatus,
    Modality,
    OwnerType,
    SimilarityKind,
)
from app.jobs.models import Job, JobStage
from app.media.models import Detection, Embedding, Scene, SimilarityEdge, TranscriptSegment

RowT = TypeVar("RowT")
Values = tuple[Any, ...]


class ValueKind(enum.Enum):
    """How an ordering value travels through a cursor (JSON) and back."""

    INT = "int"
    FLOAT = "float"
    STR = "str"
    DATETIME = "datetime"
    UUID = "uuid"

    def dump(self, value: Any) -> Any:
        """A JSON-safe form of ``value``."""
        if self in (ValueKind.DATETIME,):
            return value.isoformat()
        if self is ValueKind.UUID:
            return str(value)
        return value

    def load(self, raw: Any) -> Any:
        """Inverse of ``dump``; ValueError on anything else."""
        if self is ValueKind.INT and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if self is ValueKind.FLOAT and isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if self is ValueKind.STR and isinstance(raw, str):
            return raw
        if self is ValueKind.DATETIME and isinstance(raw, str):
            value = datetime.fromisoformat(raw)
            if value.tzinfo is None:
                raise ValueError("cursor timestamp without a time zone")
            return value
        if self is ValueKind.UUID and isinstance(raw, str):
            return uuid.UUID(raw)
        raise ValueError(f"not a {self.value}: {raw!r}")


@dataclass(frozen=True, slots=True)
class Ordering:
    """A total order over one table: sort columns, then the id as the tie-breaker."""

    name: str
    columns: tuple[tuple[InstrumentedAttribute[Any], ValueKind], ...]
    descending: bool

    def values_of(self, row: Any) -> Values:
        """The ordering values of ``row`` (what a cursor after it records)."""
        return tuple(getattr(row, column.key) for column, _ in self.columns)

    def dump(self, values: Values) -> list[Any]:
        """JSON-safe ordering values."""
        return [kind.dump(v) for (_, kind), v in zip(self.columns, values, strict=True)]

    def load(self, raw: Sequence[Any]) -> Values:
        """Ordering values from their JSON form; ValueError when they do not fit."""
        if len(raw) != len(self.columns):
            raise ValueError("cursor has the wrong number of values")
        return tuple(kind.load(v) for (_, kind), v in zip(self.columns, raw, strict=True))

    def order_by(self) -> list[ColumnElement[Any]]:
        """ORDER BY clauses."""
        return [c.desc() if self.descending else c.asc() for c, _ in self.columns]

    def after(self, values: Values) -> ColumnElement[bool]:
        """Rows strictly after ``values``: (a, b) > (x, y) spelled out, which binds each value
        with its column's type (tuple comparison would lose SQLite's timestamp format)."""
        clauses: list[ColumnElement[bool]] = []
        for i, (column, _) in enumerate(self.columns):
            equal = [c == v for (c, _), v in zip(self.columns[:i], values[:i], strict=True)]
            beyond = column < values[i] if self.descending else column > values[i]
            clauses.append(and_(*equal, beyond))
        return or_(*clauses)


@dataclass(frozen=True, slots=True)
class Page:
    """A page request: at most ``first`` rows after the row with ordering values ``after``."""

    first: int
    after: Values | None = None


@dataclass(frozen=True, slots=True)
class PageRows(Generic[RowT]):
    """One page of rows, and whether more follow."""

    rows: list[RowT]
    has_next: bool


def _page_rows(rows: list[RowT], page: Page) -> PageRows[RowT]:
    return PageRows(rows=rows[: page.first], has_next=len(rows) > page.first)


# --- orderings -------------------------------------------------------------------------

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
JOB_ORDER = Ordering("job", ((Job.created_at, ValueKind.DATETIME), (Job.id, ValueKind.UUID)), True)
STAGE_ORDER = Ordering("stage", ((JobStage.ordinal, ValueKind.INT), (JobStage.id, ValueKind.UUID)), False)
AUDIT_ORDER = Ordering(
    "audit", ((AuditEvent.occurred_at, ValueKind.DATETIME), (AuditEvent.id, ValueKind.UUID)), True
)


def asset_ordering(field: str, descending: bool) -> Ordering:
    """The asset ordering by ``field`` (created_at, updated_at or title)."""
    column: InstrumentedAttribute[Any]
    kind: ValueKind
    if field == "created_at":
        column, kind = Asset.created_at, ValueKind.DATETIME
    elif field == "updated_at":
        column, kind = Asset.updated_at, ValueKind.DATETIME
    elif field == "title":
        column, kind = Asset.title, ValueKind.STR
    else:
        raise ValueError(f"unknown asset ordering {field!r}")
    return Ordering(
        f"asset.{field}.{'desc' if descending else 'asc'}",
        ((column, kind), (Asset.id, ValueKind.UUID)),
        descending,
    )


# --- single rows by id -------------------------------------------------------------------


async def _by_ids(
    session: AsyncSession,
    model: Any,
    *,
    tenant_id: uuid.UUID,
    ids: Iterable[uuid.UUID],
    extra: Sequence[Any] = (),
) -> dict[uuid.UUID, Any]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await session.scalars(
        select(model).where(model.tenant_id == tenant_id, model.id.in_(wanted), *extra)
    )
    return {row.id: row for row in rows}


async def assets_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Asset]:
    """Live (not deleted) assets of the tenant, by id."""
    return await _by_ids(session, Asset, tenant_id=tenant_id, ids=ids, extra=[Asset.deleted_at.is_(None)])


async def scenes_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Scene]:
    """Scenes of the tenant's live assets, by id."""
    return await _by_ids(session, Scene, tenant_id=tenant_id, ids=ids, extra=[_live_asset(Scene.asset_id)])


async def segments_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, TranscriptSegment]:
    """Transcript segments of the tenant's live assets, by id."""
    return await _by_ids(
        session,
        TranscriptSegment,
        tenant_id=tenant_id,
        ids=ids,
        extra=[_live_asset(TranscriptSegment.asset_id)],
    )


async def detections_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Detection]:
    """Detections of the tenant's live assets, by id."""
    return await _by_ids(
        session, Detection, tenant_id=tenant_id, ids=ids, extra=[_live_asset(Detection.asset_id)]
    )


async def edges_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, SimilarityEdge]:
    """Similarity edges of the tenant whose both ends are live assets, by id."""
    return await _by_ids(
        session,
        SimilarityEdge,
        tenant_id=tenant_id,
        ids=ids,
        extra=[_live_asset(SimilarityEdge.source_asset_id), _live_asset(SimilarityEdge.target_asset_id)],
    )


async def jobs_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Job]:
    """Jobs of the tenant, by id (also those of deleted assets: they are history)."""
    return await _by_ids(session, Job, tenant_id=tenant_id, ids=ids)


async def stages_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, JobStage]:
    """Job stages of the tenant, by id."""
    return await _by_ids(session, JobStage, tenant_id=tenant_id, ids=ids)


async def audit_events_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, AuditEvent]:
    """Audit events of the tenant, by id."""
    return await _by_ids(session, AuditEvent, tenant_id=tenant_id, ids=ids)


def _live_asset(asset_id: Any) -> ColumnElement[bool]:
    return exists().where(Asset.id == asset_id, Asset.deleted_at.is_(None))


# --- top-N per parent --------------------------------------------------------------------


async def _top_n_per_anchor(
    session: AsyncSession,
    model: Any,
    inner: Select[Any],
    anchor: InstrumentedAttribute[Any],
    ordering: Ordering,
    page: Page,
) -> dict[uuid.UUID, list[Any]]:
    """Rows of ``inner`` grouped by ``anchor``: the first ``page.first + 1`` per anchor (the
    extra row only tells whether a next page exists)."""
    if page.after is not None:
        inner = inner.where(ordering.after(page.after))
    rank = func.row_number().over(partition_by=anchor, order_by=ordering.order_by())
    subquery = inner.add_columns(anchor.label("anchor_id"), rank.label("rank_in_anchor")).subquery()
    row = aliased(model, subquery)
    stmt = (
        select(row, subquery.c.anchor_id)
        .where(subquery.c.rank_in_anchor <= page.first + 1)
        .order_by(subquery.c.anchor_id, subquery.c.rank_in_anchor)
    )
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for entity, anchor_id in await session.execute(stmt):
        grouped[anchor_id].append(entity)
    return grouped


def _pages(
    grouped: dict[uuid.UUID, list[RowT]], anchors: Iterable[uuid.UUID], page: Page
) -> dict[uuid.UUID, PageRows[RowT]]:
    return {anchor: _page_rows(grouped.get(anchor, []), page) for anchor in anchors}


async def scenes_of_assets(
    session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Sequence[uuid.UUID], page: Page
) -> dict[uuid.UUID, PageRows[Scene]]:
    """Each asset's scenes in time order."""
    inner = select(Scene).where(Scene.tenant_id == tenant_id, Scene.asset_id.in_(asset_ids))
    grouped = await _top_n_per_anchor(session, Scene, inner, Scene.asset_id, SCENE_ORDER, page)
    return _pages(grouped, asset_ids, page)


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
        conditions.append(TranscriptSegment.text.ilike(f"%{_escape_like(f.text)}%", escape="\\"))
    return conditions


async def segments_of_assets(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_ids: Sequence[uuid.UUID],
    page: Page,
    where: SegmentFilter,
) -> dict[uuid.UUID, PageRows[TranscriptSegment]]:
    """Each asset's transcript segments in time order."""
    inner = select(TranscriptSegment).where(
        TranscriptSegment.tenant_id == tenant_id,
        TranscriptSegment.asset_id.in_(asset_ids),
        *_segment_conditions(where),
    )
    grouped = await _top_n_per_anchor(
        session, TranscriptSegment, inner, TranscriptSegment.asset_id, SEGMENT_ORDER, page
    )
    return _pages(grouped, asset_ids, page)


async def segments_of_scenes(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    scene_ids: Sequence[uuid.UUID],
    page: Page,
    where: SegmentFilter,
) -> dict[uuid.UUID, PageRows[TranscriptSegment]]:
    """For each scene, the segments of its asset that overlap the scene's time span."""
    # By time, not by the optional scene_id column: speech is transcribed per asset and a
    # sentence spanning a cut belongs to both scenes.
    inner = (
        select(TranscriptSegment)
        .join(
            Scene,
            and_(
                Scene.asset_id == TranscriptSegment.asset_id,
                TranscriptSegment.start_s < Scene.end_s,
                TranscriptSegment.end_s > Scene.start_s,
            ),
        )
        .where(TranscriptSegment.tenant_id == tenant_id, Scene.id.in_(scene_ids), *_segment_conditions(where))
    )
    grouped = await _top_n_per_anchor(session, TranscriptSegment, inner, Scene.id, SEGMENT_ORDER, page)
    return _pages(grouped, scene_ids, page)


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
) -> dict[uuid.UUID, PageRows[Detection]]:
    """Each asset's detections in time order."""
    inner = select(Detection).where(
        Detection.tenant_id == tenant_id, Detection.asset_id.in_(asset_ids), *_detection_conditions(where)
    )
    grouped = await _top_n_per_anchor(session, Detection, inner, Detection.asset_id, DETECTION_ORDER, page)
    return _pages(grouped, asset_ids, page)


async def detections_of_scenes(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    scene_ids: Sequence[uuid.UUID],
    page: Page,
    where: DetectionFilter,
) -> dict[uuid.UUID, PageRows[Detection]]:
    """Each scene's detections (those the detect stage attributed to it) in time order."""
    inner = select(Detection).where(
        Detection.tenant_id == tenant_id, Detection.scene_id.in_(scene_ids), *_detection_conditions(where)
    )
    grouped = await _top_n_per_anchor(session, Detection, inner, Detection.scene_id, DETECTION_ORDER, page)
    return _pages(grouped, scene_ids, page)


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

    def direction(near: Any, far: Any, near_type: Any, far_type: Any, far_asset: Any) -> Select[Any]:
        conditions = [
            SimilarityEdge.tenant_id == tenant_id,
            near_type == owner_type,
            far_type == owner_type,
            near.in_(owner_ids),
            # The far end's asset must be live: deleted assets vanish from every list.
            _live_asset(far_asset),
        ]
        if where.kinds:
            conditions.append(SimilarityEdge.kind.in_(where.kinds))
        if where.min_score is not None:
            conditions.append(SimilarityEdge.score >= where.min_score)
        if page.after is not None:
            conditions.append(EDGE_ORDER.after(page.after))
        return select(SimilarityEdge, near.label("anchor_id"), far.label("other_id")).where(*conditions)

    both = union_all(
        direction(
            SimilarityEdge.source_id,
            SimilarityEdge.target_id,
            SimilarityEdge.source_type,
            SimilarityEdge.target_type,
            SimilarityEdge.target_asset_id,
        ),
        direction(
            SimilarityEdge.target_id,
            SimilarityEdge.source_id,
            SimilarityEdge.target_type,
            SimilarityEdge.source_type,
            SimilarityEdge.source_asset_id,
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
    return _pages(grouped, owner_ids, page)


async def jobs_of_assets(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_ids: Sequence[uuid.UUID],
    page: Page,
    statuses: tuple[JobStatus, ...] = (),
) -> dict[uuid.UUID, PageRows[Job]]:
    """Each asset's jobs, newest first."""
    inner = select(Job).where(Job.tenant_id == tenant_id, Job.asset_id.in_(asset_ids))
    if statuses:
        inner = inner.where(Job.status.in_(statuses))
    grouped = await _top_n_per_anchor(session, Job, inner, Job.asset_id, JOB_ORDER, page)
    return _pages(grouped, asset_ids, page)


async def stages_of_jobs(
    session: AsyncSession, *, tenant_id: uuid.UUID, job_ids: Sequence[uuid.UUID], page: Page
) -> dict[uuid.UUID, PageRows[JobStage]]:
    """Each job's stages in pipeline order."""
    inner = select(JobStage).where(JobStage.tenant_id == tenant_id, JobStage.job_id.in_(job_ids))
    grouped = await _top_n_per_anchor(session, JobStage, inner, JobStage.job_id, STAGE_ORDER, page)
    return _pages(grouped, job_ids, page)


async def audit_events_of_entities(
    session: AsyncSession, *, tenant_id: uuid.UUID, entity_ids: Sequence[uuid.UUID], page: Page
) -> dict[uuid.UUID, PageRows[AuditEvent]]:
    """Each entity's audit trail, newest first."""
    inner = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id, AuditEvent.entity_id.in_(entity_ids))
    grouped = await _top_n_per_anchor(session, AuditEvent, inner, AuditEvent.entity_id, AUDIT_ORDER, page)
    return _pages(grouped, entity_ids, page)


# --- root lists --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssetFilter:
    """Which assets. Every given criterion must hold."""

    kinds: tuple[AssetKind, ...] = ()
    statuses: tuple[AssetStatus, ...] = ()
    tag: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    title: str | None = None


def _has_tag(dialect: str, tag: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # JSONB containment uses the GIN-indexable @> operator.
        return type_coerce(Asset.tags, JSONB).contains([tag])
    if dialect == "sqlite":
        element = func.json_each(Asset.tags).table_valued("value")
        return exists(select(literal_column("1")).select_from(element).where(element.c.value == tag))
    raise NotImplementedError(f"tag filter on {dialect}")


async def list_assets(
    session: AsyncSession, *, tenant_id: uuid.UUID, where: AssetFilter, ordering: Ordering, page: Page
) -> PageRows[Asset]:
    """One page of the tenant's live assets."""
    stmt = select(Asset).where(Asset.tenant_id == tenant_id, Asset.deleted_at.is_(None))
    if where.kinds:
        stmt = stmt.where(Asset.kind.in_(where.kinds))
    if where.statuses:
        stmt = stmt.where(Asset.status.in_(where.statuses))
    if where.tag is not None:
        stmt = stmt.where(_has_tag(session.get_bind().dialect.name, where.tag))
    if where.created_from is not None:
        stmt = stmt.where(Asset.created_at >= where.created_from)
    if where.created_to is not None:
        stmt = stmt.where(Asset.created_at < where.created_to)
    if where.min_duration_s is not None:
        stmt = stmt.where(Asset.duration_s >= where.min_duration_s)
    if where.max_duration_s is not None:
        stmt = stmt.where(Asset.duration_s <= where.max_duration_s)
    if where.title:
        stmt = stmt.where(Asset.title.ilike(f"%{_escape_like(where.title)}%", escape="\\"))
    if page.after is not None:
        stmt = stmt.where(ordering.after(page.after))
    stmt = stmt.order_by(*ordering.order_by()).limit(page.first + 1)
    return _page_rows(list(await session.scalars(stmt)), page)


async def list_jobs(
    session: AsyncSession, *, tenant_id: uuid.UUID, statuses: tuple[JobStatus, ...], page: Page
) -> PageRows[Job]:
    """One page of the tenant's jobs, newest first."""
    stmt = select(Job).where(Job.tenant_id == tenant_id)
    if statuses:
        stmt = stmt.where(Job.status.in_(statuses))
    if page.after is not None:
        stmt = stmt.where(JOB_ORDER.after(page.after))
    stmt = stmt.order_by(*JOB_ORDER.order_by()).limit(page.first + 1)
    return _page_rows(list(await session.scalars(stmt)), page)


async def list_audit_events(
    session: AsyncSession, *, tenant_id: uuid.UUID, page: Page
) -> PageRows[AuditEvent]:
    """One page of the tenant's audit trail, newest first."""
    stmt = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if page.after is not None:
        stmt = stmt.where(AUDIT_ORDER.after(page.after))
    stmt = stmt.order_by(*AUDIT_ORDER.order_by()).limit(page.first + 1)
    return _page_rows(list(await session.scalars(stmt)), page)


async def job_with_stages(
    session: AsyncSession, *, tenant_id: uuid.UUID, job_id: uuid.UUID
) -> tuple[Job, list[JobStage]] | None:
    """A job and all its stages in pipeline order (the state a progress stream starts from)."""
    job = await session.scalar(select(Job).where(Job.tenant_id == tenant_id, Job.id == job_id))
    if job is None:
        return None
    stages = await session.scalars(
        select(JobStage).where(JobStage.job_id == job_id).order_by(*STAGE_ORDER.order_by())
    )
    return job, list(stages)


async def tenant_owns_blob(session: AsyncSession, *, tenant_id: uuid.UUID, key: str) -> bool:
    """Whether ``key`` is a keyframe or thumbnail of one of the tenant's live scenes."""
    stmt = select(
        exists().where(
            Scene.tenant_id == tenant_id,
            or_(Scene.keyframe_blob_key == key, Scene.thumbnail_blob_key == key),
            _live_asset(Scene.asset_id),
        )
    )
    return bool(await session.scalar(stmt))


async def referenced_blob_keys(session: AsyncSession, *, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` a scene of any tenant, of a deleted asset or not, has as its keyframe
    or thumbnail (the blob sweep's question)."""
    frames = select(Scene.keyframe_blob_key).where(Scene.keyframe_blob_key.in_(keys))
    thumbs = select(Scene.thumbnail_blob_key).where(Scene.thumbnail_blob_key.in_(keys))
    rows = await session.scalars(frames.union(thumbs))
    return {key for key in rows if key is not None}


async def asset_embeddings(
    session: AsyncSession, *, tenant_id: uuid.UUID, asset_id: uuid.UUID, modalities: Sequence[Modality]
) -> list[Embedding]:
    """The vectors an asset owns itself (not its scenes' or segments') in these modalities, of
    every model version stored (the caller picks the version it can compare with)."""
    stmt = select(Embedding).where(
        Embedding.tenant_id == tenant_id,
        Embedding.asset_id == asset_id,
        Embedding.owner_type == OwnerType.ASSET,
        Embedding.owner_id == asset_id,
        Embedding.modality.in_(modalities),
    )
    return list(await session.scalars(stmt))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

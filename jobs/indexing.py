"""From database rows to search documents: what the ``index`` stage, the search-sync actor and
``mediakg search reindex`` share.

The database is the source of truth; the search index is a projection of it that can always
be rebuilt. One asset becomes one :class:`search.documents.AssetDocument` with a
:class:`search.documents.MomentDocument` per scene (or, for assets without scenes such as
text documents, per transcript segment). The projection rules:

- of every output kind (scenes, transcript segments, each detection kind), the rows of the
  most recently written model (name, version) are used: a stage keeps other versions' rows
  for the generation still served, and mixing two sets would duplicate every moment;
- a transcript segment belongs to the scenes it overlaps substantially (see
  ``_segment_scenes``), so a sentence bleeding a few frames over a cut is not found twice;
- vectors are chosen per generation: each generation names the model version of every vector
  field, and the document written to it carries exactly those vectors (a write never hands a
  generation vectors of another model);
- ``version`` is the newest timestamp among everything the document was built from (asset row,
  deletion, output rows) in microseconds. Every stage claim touches the asset row and every
  output row is new when written, so a later build of changed data always carries a higher
  version, while a redelivered build of unchanged data carries the same one (a stale no-op).

A deleted asset (``deleted_at`` set) is never written: it is removed from every generation,
which leaves a tombstone so a delayed write of an older version cannot bring it back.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset
from app.core.db import session_scope
from app.core.enums import DetectionKind, Modality, OwnerType
from app.media.models import Detection, Embedding, Scene, TranscriptSegment
from app.media.service import vector_from_bytes, vector_to_bytes
from inference.cache import content_hash
from inference.errors import ModelNotConfiguredError
from jobs.scene_text import scene_text
from search.backend import (
    GenerationError,
    GenerationInfo,
    GenerationSpec,
    GenerationState,
    SearchBackend,
    VectorSpec,
    WriteReport,
)
from search.documents import (
    FIELD_TASK,
    AssetDocument,
    DocumentError,
    MetadataValue,
    MomentDocument,
    StoredFields,
    TimedText,
    Vector,
    VectorField,
    model_key,
)

log = logging.getLogger(__name__)

# Fields a generation has only when the router serves their model (CLIP: clip_model_dir set).
OPTIONAL_FIELDS = frozenset({VectorField.CLIP})
# A segment counts for a scene when at least this much of it (seconds, or half the segment if
# shorter) lies inside: whisper's segment ends often run a few frames past a cut.
_MIN_OVERLAP_S = 1.0
# Assets loaded per statement batch (reindex, reconcile).
BATCH = 100
# A deletion committed this long before a reconcile pass started is still looked at by the next
# pass: transactions run for well under a minute, so none can commit unseen between passes.
_RECONCILE_MARGIN = timedelta(minutes=5)

RowT = TypeVar("RowT", Scene, TranscriptSegment, Detection)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch (the unit of document versions)."""
    return int(moment.astimezone(UTC).timestamp() * 1_000_000)


@dataclass(frozen=True, slots=True)
class AssetSnapshot:
    """An asset and every row the search documents are built from, read in one transaction."""

    asset: Asset
    scenes: tuple[Scene, ...] = ()
    segments: tuple[TranscriptSegment, ...] = ()
    detections: tuple[Detection, ...] = ()
    embeddings: tuple[Embedding, ...] = ()

    @property
    def deleted(self) -> bool:
        """Whether the asset was (soft-)deleted."""
        return self.asset.deleted_at is not None

    @property
    def version(self) -> int:
        """The newest timestamp of everything this snapshot holds, in microseconds."""
        moments = [self.asset.updated_at, self.asset.created_at]
        if self.asset.deleted_at is not None:
            moments.append(self.asset.deleted_at)
        for rows in (self.scenes, self.segments, self.detections, self.embeddings):
            moments.extend(row.created_at for row in rows)
        return max(micros(m) for m in moments)


def _latest_model(rows: Iterable[RowT]) -> list[RowT]:
    """Rows of the most recently written (model name, version); ties go to the greater name."""
    groups: dict[tuple[str, str], list[RowT]] = defaultdict(list)
    for row in rows:
        groups[(row.model_name, row.model_version)].append(row)
    if not groups:
        return []
    newest = max(groups, key=lambda key: (max(r.created_at for r in groups[key]), key))
    return groups[newest]


async def load_snapshots(session: AsyncSession, asset_ids: Sequence[uuid.UUID]) -> list[AssetSnapshot]:
    """Snapshots of the given assets (deleted ones included; missing ids skipped), in id order.

    Five statements however many assets: one per table.
    """
    if not asset_ids:
        return []
    ids = sorted(set(asset_ids))
    assets = list(await session.scalars(select(Asset).where(Asset.id.in_(ids)).order_by(Asset.id)))
    scenes: dict[uuid.UUID, list[Scene]] = defaultdict(list)
    for scene in await session.scalars(select(Scene).where(Scene.asset_id.in_(ids))):
        scenes[scene.asset_id].append(scene)
    segments: dict[uuid.UUID, list[TranscriptSegment]] = defaultdict(list)
    for segment in await session.scalars(
        select(TranscriptSegment).where(TranscriptSegment.asset_id.in_(ids))
    ):
        segments[segment.asset_id].append(segment)
    detections: dict[uuid.UUID, list[Detection]] = defaultdict(list)
    for detection in await session.scalars(select(Detection).where(Detection.asset_id.in_(ids))):
        detections[detection.asset_id].append(detection)
    embeddings: dict[uuid.UUID, list[Embedding]] = defaultdict(list)
    for embedding in await session.scalars(select(Embedding).where(Embedding.asset_id.in_(ids))):
        embeddings[embedding.asset_id].append(embedding)
    snapshots = []
    for asset in assets:
        by_kind: dict[DetectionKind, list[Detection]] = defaultdict(list)
        for detection in detections[asset.id]:
            by_kind[detection.kind].append(detection)
        # Each detection kind comes from its own stage (ocr: text; detect: labels, faces) and
        # so may be on another model version than the others.
        chosen_detections = [d for kind in DetectionKind for d in _latest_model(by_kind[kind])]
        snapshots.append(
            AssetSnapshot(
                asset=asset,
                scenes=tuple(sorted(_latest_model(scenes[asset.id]), key=lambda s: (s.start_s, s.ordinal))),
                segments=tuple(
                    sorted(_latest_model(segments[asset.id]), key=lambda s: (s.start_s, s.ordinal))
                ),
                detections=tuple(sorted(chosen_detections, key=lambda d: (d.time_s, d.kind.value, d.label))),
                # Every model's vectors: each generation picks its own (see build_document).
                embeddings=tuple(embeddings[asset.id]),
            )
        )
    return snapshots


# --- documents -----------------------------------------------------------------------------


def _overlap(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def _segment_scenes(segment: TranscriptSegment, scenes: Sequence[Scene]) -> list[Scene]:
    """The scenes a segment is heard in: those holding ``_MIN_OVERLAP_S`` of it (or half of
    a shorter segment); failing that, the one holding most of it."""
    length = max(0.0, segment.end_s - segment.start_s)
    need = min(_MIN_OVERLAP_S, length / 2)
    overlaps = [(_overlap(segment.start_s, segment.end_s, s.start_s, s.end_s), s) for s in scenes]
    chosen = [scene for amount, scene in overlaps if amount > 0 and amount >= need]
    if chosen:
        return chosen
    # A zero-length segment, or one that falls between scenes: the nearest by overlap, then
    # by distance of starts.
    best = max(
        overlaps,
        key=lambda item: (item[0], -abs(item[1].start_s - segment.start_s)),
        default=None,
    )
    return [best[1]] if best is not None else []


def _metadata(raw: Mapping[str, Any]) -> dict[str, MetadataValue]:
    """The user metadata a search filter can compare: scalar values under dot-free keys.

    Nested objects, lists and nulls stay in the database (and the API); they are not filters.
    """
    kept: dict[str, MetadataValue] = {}
    for key, value in raw.items():
        if not key or "." in key:
            continue
        if isinstance(value, bool | int | str):
            kept[key] = value
        elif isinstance(value, float) and math.isfinite(value):
            kept[key] = value
    return kept


def _normalised_mean(vectors: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32] | None:
    if not vectors:
        return None
    mean: npt.NDArray[np.float32] = np.mean(np.stack(vectors), axis=0).astype(np.float32)
    norm = float(np.linalg.norm(mean))
    if not math.isfinite(norm) or norm < 1e-6:
        return None
    unit: npt.NDArray[np.float32] = (mean / norm).astype(np.float32)
    return unit


class _Vectors:
    """The snapshot's vectors of one generation, by (owner type, owner id, field)."""

    def __init__(self, embeddings: Iterable[Embedding], spec: GenerationSpec) -> None:
        fields = StoredFields(spec.vectors)
        self.spec = spec
        self._by_owner: dict[tuple[OwnerType, uuid.UUID, VectorField], npt.NDArray[np.float32]] = {}
        for row in embeddings:
            vector_field = fields.field_of(row.modality, row.model_name, row.model_version, row.dimension)
            if vector_field is not None:
                self._by_owner[(row.owner_type, row.owner_id, vector_field)] = vector_from_bytes(row.vector)

    def get(
        self, owner_type: OwnerType, owner_id: uuid.UUID, vector_field: VectorField
    ) -> npt.NDArray[np.float32] | None:
        """The stored vector of one owner, if the generation's model produced one."""
        return self._by_owner.get((owner_type, owner_id, vector_field))

    def wrap(self, vector_field: VectorField, values: npt.NDArray[np.float32] | None) -> Vector | None:
        """``values`` as a search vector of this generation's model (None: nothing usable)."""
        if values is None:
            return None
        try:
            return Vector.of(values, self.spec.vectors[vector_field].model_version)
        except DocumentError:
            # A zero or non-finite vector (a degenerate embedding) is left out, not fatal.
            return None


def build_document(snapshot: AssetSnapshot, spec: GenerationSpec) -> AssetDocument:
    """The search document of a live asset for the generation ``spec`` (see module docstring)."""
    asset = snapshot.asset
    vectors = _Vectors(snapshot.embeddings, spec)
    ocr_by_scene: dict[uuid.UUID, list[Detection]] = defaultdict(list)
    labels_by_scene: dict[uuid.UUID, list[Detection]] = defaultdict(list)
    faces_by_scene: dict[uuid.UUID, int] = defaultdict(int)
    scene_at = {scene.id: scene for scene in snapshot.scenes}
    for detection in snapshot.detections:
        scene_id = (
            detection.scene_id
            if detection.scene_id in scene_at
            else _scene_at(snapshot.scenes, detection.time_s)
        )
        if scene_id is None:
            continue
        if detection.kind is DetectionKind.TEXT:
            ocr_by_scene[scene_id].append(detection)
        elif detection.kind is DetectionKind.LABEL:
            labels_by_scene[scene_id].append(detection)
        elif detection.kind is DetectionKind.FACE:
            faces_by_scene[scene_id] += 1
    segments_by_scene: dict[uuid.UUID, list[TranscriptSegment]] = defaultdict(list)
    for segment in snapshot.segments:
        for scene in _segment_scenes(segment, snapshot.scenes):
            segments_by_scene[scene.id].append(segment)

    moments: list[MomentDocument] = []
    moment_vectors: dict[VectorField, list[npt.NDArray[np.float32]]] = defaultdict(list)
    for scene in snapshot.scenes:
        segments = segments_by_scene[scene.id]
        found: dict[VectorField, Vector] = {}
        for vector_field in spec.vectors:
            values = vectors.get(OwnerType.SCENE, scene.id, vector_field)
            if vector_field is VectorField.TEXT:
                # A scene's own text vector holds it in words: on-screen text, labels,
                # people (jobs.scene_text); what is said in it counts as much, sentence by
                # sentence.
                parts = [values] if values is not None else []
                parts += [
                    v
                    for s in segments
                    if (v := vectors.get(OwnerType.SEGMENT, s.id, vector_field)) is not None
                ]
                values = _normalised_mean(parts)
            vector = vectors.wrap(vector_field, values)
            if vector is not None:
                found[vector_field] = vector
                moment_vectors[vector_field].append(vector.values)
        moments.append(
            MomentDocument(
                scene_id=str(scene.id),
                start_s=scene.start_s,
                end_s=max(scene.end_s, scene.start_s),
                transcript=tuple(TimedText(s.start_s, s.end_s, s.text) for s in segments if s.text.strip()),
                ocr=_ocr_lines(scene, ocr_by_scene[scene.id]),
                labels=_labels(labels_by_scene[scene.id]),
                faces_count=faces_by_scene[scene.id],
                vectors=found,
            )
        )
    if not snapshot.scenes:
        # Text documents (and audio before scene detection): each segment is a moment.
        for segment in snapshot.segments:
            if not segment.text.strip():
                continue
            found = {}
            for vector_field in spec.vectors:
                vector = vectors.wrap(vector_field, vectors.get(OwnerType.SEGMENT, segment.id, vector_field))
                if vector is not None:
                    found[vector_field] = vector
                    moment_vectors[vector_field].append(vector.values)
            moments.append(
                MomentDocument(
                    scene_id=str(segment.id),
                    start_s=segment.start_s,
                    end_s=max(segment.end_s, segment.start_s),
                    transcript=(TimedText(segment.start_s, segment.end_s, segment.text),),
                    vectors=found,
                )
            )

    asset_vectors: dict[VectorField, Vector] = {}
    for vector_field in spec.vectors:
        own = vectors.get(OwnerType.ASSET, asset.id, vector_field)
        # Without an asset-level vector, the asset is what its moments are on average.
        vector = vectors.wrap(
            vector_field, own if own is not None else _normalised_mean(moment_vectors[vector_field])
        )
        if vector is not None:
            asset_vectors[vector_field] = vector
    languages = [s.language for s in snapshot.segments if s.language]
    language = asset.language or (max(set(languages), key=languages.count) if languages else None)
    return AssetDocument(
        tenant_id=str(asset.tenant_id),
        asset_id=str(asset.id),
        version=snapshot.version,
        kind=asset.kind.value,
        title=asset.title,
        created_at=asset.created_at,
        tags=tuple(asset.tags),
        labels=tuple(sorted({label for m in moments for label in m.labels})),
        language=language,
        duration_s=asset.duration_s,
        # The most faces seen at once: "how many people appear" without counting one person
        # once per shot.
        faces_count=max((m.faces_count for m in moments), default=0),
        user_metadata=_metadata(asset.user_metadata),
        vectors=asset_vectors,
        moments=tuple(moments),
    )


def _scene_at(scenes: Sequence[Scene], time_s: float) -> uuid.UUID | None:
    for scene in scenes:
        if scene.start_s <= time_s < scene.end_s or scene.start_s == scene.end_s == time_s:
            return scene.id
    return scenes[-1].id if scenes and time_s >= scenes[-1].end_s else None


def _ocr_lines(scene: Scene, detections: Sequence[Detection]) -> tuple[TimedText, ...]:
    """On-screen text shown during the scene, once per distinct line, in reading order.

    The time range is the scene's: the text is visible for the shot, and a player jumping to
    its start shows it.
    """
    seen: set[str] = set()
    lines = []
    for detection in sorted(detections, key=lambda d: (d.box_y or 0.0, d.box_x or 0.0, d.time_s)):
        text = " ".join(detection.label.split())
        if text and text.lower() not in seen:
            seen.add(text.lower())
            lines.append(TimedText(scene.start_s, max(scene.end_s, scene.start_s), text))
    return tuple(lines)


def _labels(detections: Sequence[Detection]) -> tuple[str, ...]:
    best: dict[str, float] = {}
    for detection in detections:
        best[detection.label] = max(best.get(detection.label, 0.0), detection.confidence)
    return tuple(sorted(best, key=lambda label: (-best[label], label)))


# --- writing -------------------------------------------------------------------------------


async def open_generations(backend: SearchBackend) -> list[GenerationInfo]:
    """The generations writes go to: the live one and any being built."""
    return [g for g in await backend.list_generations() if g.state is not GenerationState.RETIRED]


async def write_snapshots(
    backend: SearchBackend,
    snapshots: Sequence[AssetSnapshot],
    *,
    generations: Sequence[GenerationInfo] | None = None,
) -> WriteReport:
    """Index live assets into each open generation (or the given ones) with that generation's
    vectors, and remove deleted ones from every generation."""
    report = WriteReport()
    targets = list(generations) if generations is not None else await open_generations(backend)
    live = [s for s in snapshots if not s.deleted]
    for snapshot in snapshots:
        if snapshot.deleted:
            report = report.merge(
                await backend.delete_asset(
                    tenant_id=str(snapshot.asset.tenant_id),
                    asset_id=str(snapshot.asset.id),
                    version=snapshot.version,
                )
            )
    if not live:
        return report
    for generation in targets:
        documents = [build_document(snapshot, generation.spec) for snapshot in live]
        try:
            report = report.merge(await backend.upsert(documents, generation=generation.name))
        except GenerationError:
            # Dropped between listing and writing: nothing to keep up to date there.
            log.info("search generation %s disappeared before the write; skipped", generation.name)
    return report


class ModelRouter(Protocol):
    """What indexing needs of ``inference.router.InferenceRouter`` (typed here, no import)."""

    def model_for(self, task: Any) -> Any:
        """The model spec serving ``task``."""
        ...

    async def embed_text(self, texts: Sequence[str]) -> Any:
        """Text embeddings with the model that made them."""
        ...


def generation_spec(router: ModelRouter, name: str) -> GenerationSpec:
    """A generation for the models ``router`` serves now (one vector field per task; the CLIP
    field only when a CLIP model is configured), dims from the model registry."""
    vectors: dict[VectorField, VectorSpec] = {}
    for vector_field, task in FIELD_TASK.items():
        try:
            spec = router.model_for(task)
        except ModelNotConfiguredError:
            if vector_field in OPTIONAL_FIELDS:
                continue
            raise
        dims = int(spec.output("embedding").dims[-1])
        vectors[vector_field] = VectorSpec(dims=dims, model_version=model_key(spec.name, spec.version))
    return GenerationSpec(name=name, vectors=vectors)


def initial_generation_name(spec: GenerationSpec) -> str:
    """A name fixed by the models, so two workers bootstrapping at once agree on it."""
    raw = "|".join(f"{f.value}={v.model_version}/{v.dims}" for f, v in sorted(spec.vectors.items()))
    return "g-" + hashlib.sha256(raw.encode()).hexdigest()[:12]


async def ensure_generation(
    backend: SearchBackend, router: Callable[[], Awaitable[ModelRouter]]
) -> list[GenerationInfo]:
    """The open generations; on a fresh install, first creates one for the current models."""
    generations = await open_generations(backend)
    if generations:
        return generations
    spec = generation_spec(await router(), "bootstrap")
    spec = GenerationSpec(name=initial_generation_name(spec), vectors=spec.vectors)
    try:
        await backend.create_generation(spec)
    except GenerationError:
        # Another worker created it first (same name: same models), or it exists retired.
        log.info("search generation %s exists already", spec.name)
        if not await open_generations(backend):
            await backend.activate_generation(spec.name)
    return await open_generations(backend)


async def sync_assets(
    session_factory: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    asset_ids: Sequence[uuid.UUID],
    *,
    generations: Sequence[GenerationInfo] | None = None,
) -> WriteReport:
    """Bring the index in line with the database for these assets (index, or remove if deleted)."""
    async with session_scope(session_factory) as session:
        snapshots = await load_snapshots(session, asset_ids)
    return await write_snapshots(backend, snapshots, generations=generations)


async def deletion_versions(session: AsyncSession, asset_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """``AssetSnapshot.version`` of each deleted asset, computed in SQL (no vectors loaded)."""
    if not asset_ids:
        return {}
    ids = list(asset_ids)
    versions: dict[uuid.UUID, int] = {}
    for asset_id, updated, created, deleted in await session.execute(
        select(Asset.id, Asset.updated_at, Asset.created_at, Asset.deleted_at).where(Asset.id.in_(ids))
    ):
        versions[asset_id] = max(micros(m) for m in (updated, created, deleted) if m is not None)
    for table in (Scene, TranscriptSegment, Detection, Embedding):
        stmt = (
            select(table.asset_id, func.max(table.created_at))
            .where(table.asset_id.in_(ids))
            .group_by(table.asset_id)
        )
        for asset_id, newest in await session.execute(stmt):
            if newest is not None and asset_id in versions:
                # The UTC type decorator does not apply to an aggregate's result on SQLite.
                stamp = newest if newest.tzinfo is not None else newest.replace(tzinfo=UTC)
                versions[asset_id] = max(versions[asset_id], micros(stamp))
    return versions


async def reconcile_deleted(
    session_factory: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    *,
    since: datetime | None = None,
    batch: int = BATCH,
) -> int:
    """Remove from search every asset deleted at or after ``since`` (all when None); how many.

    Deletes are idempotent (a tombstone of the same version changes nothing), so running this
    after the sync message already did the work costs a lookup per asset, no harm.
    """
    done = 0
    after: uuid.UUID | None = None
    while True:
        async with session_scope(session_factory) as session:
            stmt = select(Asset.id, Asset.tenant_id).where(Asset.deleted_at.is_not(None))
            if since is not None:
                stmt = stmt.where(Asset.deleted_at >= since)
            if after is not None:
                stmt = stmt.where(Asset.id > after)
            rows = list(await session.execute(stmt.order_by(Asset.id).limit(batch)))
            versions = await deletion_versions(session, [row[0] for row in rows])
        if not rows:
            return done
        for asset_id, tenant_id in rows:
            await backend.delete_asset(
                tenant_id=str(tenant_id), asset_id=str(asset_id), version=versions[asset_id]
            )
        done += len(rows)
        after = rows[-1][0]


# --- re-embedding what a new model version lacks -------------------------------------------


@dataclass(slots=True)
class EmbedReport:
    """Vectors a reindex computed because the database had none of the generation's model."""

    segments: int = 0
    scenes: int = 0
    assets: int = 0

    @property
    def total(self) -> int:
        """All vectors computed."""
        return self.segments + self.scenes + self.assets


def missing_texts(snapshot: AssetSnapshot, model: str) -> list[tuple[OwnerType, uuid.UUID, str]]:
    """(owner type, owner id, text) of every text the embed stage embeds that has no
    ``model`` vector: transcript segments, each scene in words, the title."""
    have = {
        (row.owner_type, row.owner_id)
        for row in snapshot.embeddings
        if row.modality is Modality.TEXT and model_key(row.model_name, row.model_version) == model
    }
    todo: list[tuple[OwnerType, uuid.UUID, str]] = []
    for segment in snapshot.segments:
        if segment.text.strip() and (OwnerType.SEGMENT, segment.id) not in have:
            todo.append((OwnerType.SEGMENT, segment.id, segment.text.strip()))
    by_scene: dict[uuid.UUID, list[Detection]] = defaultdict(list)
    for detection in snapshot.detections:
        if detection.scene_id is not None:
            by_scene[detection.scene_id].append(detection)
    for scene in snapshot.scenes:
        # The embed stage's texts (jobs/stages/embed.py): each scene in words (the one rule in
        # jobs.scene_text), the asset's title; so a later embed run reuses these vectors.
        text = scene_text(by_scene[scene.id]).strip()
        if text and (OwnerType.SCENE, scene.id) not in have:
            todo.append((OwnerType.SCENE, scene.id, text))
    title = snapshot.asset.title.strip()
    if title and (OwnerType.ASSET, snapshot.asset.id) not in have:
        todo.append((OwnerType.ASSET, snapshot.asset.id, title))
    return todo


async def embed_missing(
    session_factory: async_sessionmaker[AsyncSession],
    router: ModelRouter,
    snapshots: Sequence[AssetSnapshot],
    *,
    model: str,
) -> EmbedReport:
    """Compute and store the text vectors of ``model`` that the snapshots lack.

    Stored as ordinary ``Embedding`` rows, so the next rebuild finds them and the index stays
    rebuildable from the database alone. Rows are inserted, never replaced: the embed stage
    owns replacing its model's rows, and a row it wrote meanwhile wins (unique constraint).
    """
    report = EmbedReport()
    work = [
        (snapshot, item)
        for snapshot in snapshots
        if not snapshot.deleted
        for item in missing_texts(snapshot, model)
    ]
    if not work:
        return report
    result = await router.embed_text([text for _, (_, _, text) in work])
    produced = model_key(result.model.name, result.model.version)
    if produced != model:
        raise GenerationError(f"the router embeds text with {produced}, the generation wants {model}")
    async with session_scope(session_factory) as session:
        for (snapshot, (owner_type, owner_id, text)), values in zip(work, result.vectors, strict=True):
            try:
                async with session.begin_nested():
                    session.add(
                        Embedding(
                            tenant_id=snapshot.asset.tenant_id,
                            asset_id=snapshot.asset.id,
                            owner_type=owner_type,
                            owner_id=owner_id,
                            modality=Modality.TEXT,
                            model_name=result.model.name,
                            model_version=result.model.version,
                            dimension=int(values.shape[-1]),
                            vector=vector_to_bytes(values),
                            content_sha256=content_hash(text),
                        )
                    )
                    await session.flush()
            except IntegrityError:
                # The embed stage stored this owner's vector meanwhile: keep the stage's.
                continue
            if owner_type is OwnerType.SEGMENT:
                report.segments += 1
            elif owner_type is OwnerType.SCENE:
                report.scenes += 1
            else:
                report.assets += 1
    return report


# --- rebuilding a generation ---------------------------------------------------------------


@dataclass(slots=True)
class ReindexReport:
    """What one ``reindex`` run did."""

    generation: str
    assets: int = 0
    deleted: int = 0
    embedded: EmbedReport = field(default_factory=EmbedReport)
    write: WriteReport = field(default_factory=WriteReport)
    activated: bool = False
    dropped: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def count_assets(session_factory: async_sessionmaker[AsyncSession]) -> int:
    """Live assets of every tenant (the work of a full rebuild)."""
    async with session_scope(session_factory) as session:
        return int(
            await session.scalar(select(func.count()).select_from(Asset).where(Asset.deleted_at.is_(None)))
            or 0
        )


async def reindex(
    session_factory: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    router: ModelRouter,
    *,
    name: str,
    switch: bool = True,
    drop_old: bool = False,
    batch: int = BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> ReindexReport:
    """Build generation ``name`` for the router's current models from the database, then
    (``switch``) make it live in one step and (``drop_old``) drop every other generation.

    Searches keep using the live generation until the switch; the index stage meanwhile writes
    to the new one too (it is open), so nothing indexed during the rebuild is missed.
    """
    import time

    if drop_old and not switch:
        raise GenerationError("--drop-old needs the switch: the live generation cannot be dropped")
    started = time.monotonic()
    spec = generation_spec(router, name)
    spec.validate()
    previous = [g.name for g in await backend.list_generations()]
    info = await backend.create_generation(spec)
    report = ReindexReport(generation=info.name)
    text_model = spec.vectors[VectorField.TEXT].model_version
    after: uuid.UUID | None = None
    while True:
        async with session_scope(session_factory) as session:
            stmt = select(Asset.id).where(Asset.deleted_at.is_(None))
            if after is not None:
                stmt = stmt.where(Asset.id > after)
            ids = list(await session.scalars(stmt.order_by(Asset.id).limit(batch)))
            snapshots = await load_snapshots(session, ids)
        if not ids:
            break
        embedded = await embed_missing(session_factory, router, snapshots, model=text_model)
        if embedded.total:
            # Re-read: the new rows belong in the documents and raise their versions above any
            # write the index stage made to the new generation from the older rows.
            async with session_scope(session_factory) as session:
                snapshots = await load_snapshots(session, ids)
            report.embedded.segments += embedded.segments
            report.embedded.scenes += embedded.scenes
            report.embedded.assets += embedded.assets
        report.write = report.write.merge(await write_snapshots(backend, snapshots, generations=[info]))
        report.assets += sum(1 for s in snapshots if not s.deleted)
        after = ids[-1]
        if on_progress is not None:
            on_progress(len(ids))
    # A delete whose sync message was lost must not survive into the new generation (nor the
    # old one): deletes are idempotent, so all of them are applied again.
    report.deleted = await reconcile_deleted(session_factory, backend)
    await backend.refresh()
    if switch:
        await backend.activate_generation(info.name)
        report.activated = True
    if drop_old:
        for old in previous:
            await backend.drop_generation(old)
            report.dropped.append(old)
    report.seconds = time.monotonic() - started
    return report


def new_generation_name(now: datetime | None = None) -> str:
    """A fresh generation name: ``g`` and the UTC time to the second."""
    moment = now or datetime.now(UTC)
    return "g" + moment.strftime("%Y%m%d-%H%M%S")


async def run_reconciler(
    session_factory: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    stop: asyncio.Event,
    *,
    interval_s: float,
) -> None:
    """Re-apply deletions every ``interval_s`` until ``stop`` is set: the safety net under the
    ``search.sync_asset`` message, so a lost message cannot leave a deleted asset searchable.

    The first pass covers every deleted asset (messages lost before this process started); the
    later ones the deletions since the previous pass, with a margin for transactions that
    committed late.
    """
    since: datetime | None = None
    while not stop.is_set():
        started = datetime.now(UTC)
        try:
            count = await reconcile_deleted(session_factory, backend, since=since)
            if count and since is None:
                log.info("search reconcile: %d deleted assets checked", count)
            since = started - _RECONCILE_MARGIN
        except Exception:
            log.exception("search reconcile failed; retrying at the next interval")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except TimeoutError:
            pass

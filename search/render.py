"""Rendering a search document from an asset snapshot: the one place the projection rules live
(the ``index`` stage, the search-sync actor and ``mediakg search reindex`` all write what
:func:`render_document` returns).

The service's database is the source of truth; the search index is a projection of it that
can always be rebuilt. A snapshot holds the asset and its output rows as the service stores
them; the row types below are structural, so the service's ORM rows are snapshot rows as they
are (``app/search_index/repository.py`` reads them).

One asset becomes one :class:`search.documents.AssetDocument` with a
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

A deleted asset (``deleted_at`` set) is never rendered: it is removed from every generation,
which leaves a tombstone so a delayed write of an older version cannot bring it back.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from search.backend import GenerationSpec
from search.documents import (
    AssetDocument,
    DocumentError,
    MetadataValue,
    Modality,
    MomentDocument,
    StoredFields,
    TimedText,
    TimedWord,
    Vector,
    VectorField,
)

# What an embedding belongs to, and what a detection found (the service's enum values).
_ASSET, _SCENE, _SEGMENT = "asset", "scene", "segment"
_LABEL, _FACE, _TEXT = "label", "face", "text"
# A segment counts for a scene when at least this much of it (seconds, or half the segment if
# shorter) lies inside: whisper's segment ends often run a few frames past a cut.
_MIN_OVERLAP_S = 1.0


class AssetRow(Protocol):
    """The asset fields a document is rendered from."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def language(self) -> str | None: ...
    @property
    def duration_s(self) -> float | None: ...
    @property
    def user_metadata(self) -> Mapping[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def deleted_at(self) -> datetime | None: ...


class OutputRow(Protocol):
    """What every stage output row carries: the model that wrote it, and when."""

    @property
    def model_name(self) -> str: ...
    @property
    def model_version(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


class SceneRow(OutputRow, Protocol):
    """A scene (shot) of the asset."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def ordinal(self) -> int: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...


class SegmentRow(SceneRow, Protocol):
    """A transcript segment: timed like a scene, with what was said and, for speech, when each
    word is spoken (``{"word", "start", "end", ...}`` in seconds from the asset start)."""

    @property
    def text(self) -> str: ...
    @property
    def language(self) -> str | None: ...
    @property
    def words(self) -> Sequence[Mapping[str, Any]]: ...


class DetectionRow(OutputRow, Protocol):
    """A label, face or on-screen text found in a frame."""

    @property
    def kind(self) -> str: ...
    @property
    def scene_id(self) -> uuid.UUID | None: ...
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


class EmbeddingRow(OutputRow, Protocol):
    """A stored vector of the asset, a scene or a segment."""

    @property
    def owner_type(self) -> str: ...
    @property
    def owner_id(self) -> uuid.UUID: ...
    @property
    def modality(self) -> Modality: ...
    @property
    def dimension(self) -> int: ...
    @property
    def vector(self) -> bytes: ...


class PersonRow(Protocol):
    """A person seen in the asset (one with a face track there, hidden ones included)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str | None: ...
    @property
    def hidden(self) -> bool: ...
    @property
    def updated_at(self) -> datetime: ...


OutputRowT = TypeVar("OutputRowT", bound=OutputRow)
SceneRowT = TypeVar("SceneRowT", bound=SceneRow)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch (the unit of document versions)."""
    return int(moment.astimezone(UTC).timestamp() * 1_000_000)


@dataclass(frozen=True, slots=True)
class AssetSnapshot:
    """An asset and every row its search documents are rendered from, read in one transaction
    (:func:`snapshot_of` picks the rows)."""

    asset: AssetRow
    scenes: tuple[SceneRow, ...] = ()
    segments: tuple[SegmentRow, ...] = ()
    detections: tuple[DetectionRow, ...] = ()
    embeddings: tuple[EmbeddingRow, ...] = ()
    people: tuple[PersonRow, ...] = ()
    # (scene id, person id) of every face track placed in a scene.
    appearances: tuple[tuple[uuid.UUID, uuid.UUID], ...] = ()

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
        rows: Iterable[OutputRow]
        for rows in (self.scenes, self.segments, self.detections, self.embeddings):
            moments.extend(row.created_at for row in rows)
        # An editor's rename, hide, merge or move touches the person row: the asset's next
        # document (with the new names) must win over the stored one.
        moments.extend(person.updated_at for person in self.people)
        return max(micros(m) for m in moments)


def snapshot_of(
    asset: AssetRow,
    *,
    scenes: Iterable[SceneRow],
    segments: Iterable[SegmentRow],
    detections: Iterable[DetectionRow],
    embeddings: Iterable[EmbeddingRow],
    people: Iterable[PersonRow] = (),
    appearances: Iterable[tuple[uuid.UUID, uuid.UUID]] = (),
) -> AssetSnapshot:
    """The snapshot of ``asset`` from all its stored rows: of each output kind the rows of the
    most recently written model, in time order; every model's vectors (each generation picks
    its own, see :func:`render_document`)."""
    by_kind: dict[str, list[DetectionRow]] = defaultdict(list)
    for detection in detections:
        by_kind[str(detection.kind)].append(detection)
    # Each detection kind comes from its own stage (ocr: text; detect: labels, faces) and
    # so may be on another model version than the others.
    chosen = [d for kind in sorted(by_kind) for d in _latest_model(by_kind[kind])]
    return AssetSnapshot(
        asset=asset,
        scenes=tuple(sorted(_latest_model(scenes), key=lambda s: (s.start_s, s.ordinal))),
        segments=tuple(sorted(_latest_model(segments), key=lambda s: (s.start_s, s.ordinal))),
        detections=tuple(sorted(chosen, key=lambda d: (d.time_s, str(d.kind), d.label))),
        embeddings=tuple(embeddings),
        people=tuple(sorted({person.id: person for person in people}.values(), key=lambda p: p.id)),
        appearances=tuple(sorted(set(appearances))),
    )


def _latest_model(rows: Iterable[OutputRowT]) -> list[OutputRowT]:
    """Rows of the most recently written (model name, version); ties go to the greater name."""
    groups: dict[tuple[str, str], list[OutputRowT]] = defaultdict(list)
    for row in rows:
        groups[(row.model_name, row.model_version)].append(row)
    if not groups:
        return []
    newest = max(groups, key=lambda key: (max(r.created_at for r in groups[key]), key))
    return groups[newest]


def _stored_vector(data: bytes) -> npt.NDArray[np.float32]:
    # The service stores vectors as little-endian float32 bytes.
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def _overlap(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def _segment_scenes(segment: SegmentRow, scenes: Sequence[SceneRowT]) -> list[SceneRowT]:
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

    def __init__(self, embeddings: Iterable[EmbeddingRow], spec: GenerationSpec) -> None:
        fields = StoredFields(spec.vectors)
        self.spec = spec
        self._by_owner: dict[tuple[str, uuid.UUID, VectorField], npt.NDArray[np.float32]] = {}
        for row in embeddings:
            vector_field = fields.field_of(row.modality, row.model_name, row.model_version, row.dimension)
            if vector_field is not None:
                self._by_owner[(row.owner_type, row.owner_id, vector_field)] = _stored_vector(row.vector)

    def get(
        self, owner_type: str, owner_id: uuid.UUID, vector_field: VectorField
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


@dataclass
class _SceneOutputs:
    """What the detections and segments say about each scene."""

    ocr: dict[uuid.UUID, list[DetectionRow]] = field(default_factory=lambda: defaultdict(list))
    labels: dict[uuid.UUID, list[DetectionRow]] = field(default_factory=lambda: defaultdict(list))
    faces: dict[uuid.UUID, int] = field(default_factory=lambda: defaultdict(int))
    segments: dict[uuid.UUID, list[SegmentRow]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, snapshot: AssetSnapshot) -> _SceneOutputs:
        """Each detection in its scene (by id, else by time), each segment in the scenes it is
        heard in."""
        out = cls()
        scene_at = {scene.id: scene for scene in snapshot.scenes}
        for detection in snapshot.detections:
            scene_id = (
                detection.scene_id
                if detection.scene_id in scene_at
                else _scene_at(snapshot.scenes, detection.time_s)
            )
            if scene_id is None:
                continue
            if detection.kind == _TEXT:
                out.ocr[scene_id].append(detection)
            elif detection.kind == _LABEL:
                out.labels[scene_id].append(detection)
            elif detection.kind == _FACE:
                out.faces[scene_id] += 1
        for segment in snapshot.segments:
            for scene in _segment_scenes(segment, snapshot.scenes):
                out.segments[scene.id].append(segment)
        return out


def render_document(snapshot: AssetSnapshot, spec: GenerationSpec) -> AssetDocument:
    """The search document of a live asset for the generation ``spec`` (see module docstring)."""
    asset = snapshot.asset
    vectors = _Vectors(snapshot.embeddings, spec)
    # Every moment's vectors, by field: the asset's fallback vector is their mean.
    moment_vectors: dict[VectorField, list[npt.NDArray[np.float32]]] = defaultdict(list)
    if snapshot.scenes:
        moments = _scene_moments(snapshot, vectors, moment_vectors)
    else:
        # Text documents (and audio before scene detection): each segment is a moment.
        moments = _segment_moments(snapshot, vectors, moment_vectors)
    asset_vectors: dict[VectorField, Vector] = {}
    for vector_field in spec.vectors:
        own = vectors.get(_ASSET, asset.id, vector_field)
        vector = vectors.wrap(vector_field, _asset_vector(own, moment_vectors[vector_field]))
        if vector is not None:
            asset_vectors[vector_field] = vector
    languages = [s.language for s in snapshot.segments if s.language]
    language = asset.language or (max(set(languages), key=languages.count) if languages else None)
    visible = [person for person in snapshot.people if not person.hidden]
    return AssetDocument(
        tenant_id=str(asset.tenant_id),
        asset_id=str(asset.id),
        version=snapshot.version,
        kind=str(asset.kind),
        title=asset.title,
        created_at=asset.created_at,
        tags=tuple(asset.tags),
        labels=tuple(sorted({label for m in moments for label in m.labels})),
        transcript=tuple(_spoken(s) for s in snapshot.segments if s.text.strip()),
        ocr=_asset_ocr(snapshot),
        language=language,
        duration_s=asset.duration_s,
        # The most faces seen at once: "how many people appear" without counting one person
        # once per shot.
        faces_count=max((m.faces_count for m in moments), default=0),
        people=tuple(sorted(set(_visible_names(snapshot).values()))),
        person_ids=tuple(str(p.id) for p in visible),
        user_metadata=_metadata(asset.user_metadata),
        vectors=asset_vectors,
        moments=tuple(moments),
    )


def _spoken(segment: SegmentRow) -> TimedText:
    """A segment as a timed text, with its timed words (malformed word entries are skipped:
    a time code then falls back to the segment's start)."""
    words: list[TimedWord] = []
    for word in segment.words or ():
        try:
            start, end, text = float(word["start"]), float(word["end"]), str(word["word"]).strip()
        except (KeyError, TypeError, ValueError):
            continue
        if text and math.isfinite(start) and math.isfinite(end):
            words.append(TimedWord(start, max(start, end), text))
    return TimedText(segment.start_s, segment.end_s, segment.text, tuple(words))


def _asset_vector(
    own: npt.NDArray[np.float32] | None, moments: Sequence[npt.NDArray[np.float32]]
) -> npt.NDArray[np.float32] | None:
    """The asset's vector in one field: its own (the title's in text; the whole video's
    frames in visual fields) and the mean of its moments, weighing equally.

    The title alone says little about a video whose speech and captions carry the subject,
    and the mean alone would lose a title that names it; their normalised mean keeps both.
    """
    content = _normalised_mean(moments)
    if own is None or content is None:
        return own if content is None else content
    unit_own = own / max(float(np.linalg.norm(own)), 1e-12)
    return _normalised_mean([unit_own.astype(np.float32), content])


def _asset_ocr(snapshot: AssetSnapshot) -> tuple[TimedText, ...]:
    """Every distinct on-screen line of the asset, first shown first (with the span of the
    scene that shows it; an image without scenes has one instant)."""
    first: dict[str, TimedText] = {}
    scenes = {scene.id: scene for scene in snapshot.scenes}
    for detection in snapshot.detections:
        text = " ".join(detection.label.split())
        if detection.kind != _TEXT or not text or text.lower() in first:
            continue
        scene = scenes.get(detection.scene_id) if detection.scene_id is not None else None
        start, end = (scene.start_s, max(scene.end_s, scene.start_s)) if scene else (detection.time_s,) * 2
        first[text.lower()] = TimedText(start, end, text)
    return tuple(sorted(first.values(), key=lambda t: (t.start_s, t.text)))


def _visible_names(snapshot: AssetSnapshot) -> dict[uuid.UUID, str]:
    """The name of each visible person of the asset who has one (blank names count as none)."""
    return {p.id: p.name.strip() for p in snapshot.people if not p.hidden and p.name and p.name.strip()}


def _scene_moments(
    snapshot: AssetSnapshot,
    vectors: _Vectors,
    moment_vectors: dict[VectorField, list[npt.NDArray[np.float32]]],
) -> list[MomentDocument]:
    outputs = _SceneOutputs.of(snapshot)
    named = _visible_names(snapshot)
    scene_people: dict[uuid.UUID, set[str]] = defaultdict(set)
    for scene_id, person_id in snapshot.appearances:
        if person_id in named:
            scene_people[scene_id].add(named[person_id])
    moments: list[MomentDocument] = []
    for scene in snapshot.scenes:
        segments = outputs.segments[scene.id]
        found: dict[VectorField, Vector] = {}
        for vector_field in vectors.spec.vectors:
            values = vectors.get(_SCENE, scene.id, vector_field)
            if vector_field is VectorField.TEXT:
                # A scene's own text vector holds it in words: on-screen text, labels,
                # people (the service's scene-text rule); what is said in it counts as much,
                # sentence by sentence.
                parts = [values] if values is not None else []
                parts += [v for s in segments if (v := vectors.get(_SEGMENT, s.id, vector_field)) is not None]
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
                transcript=tuple(_spoken(s) for s in segments if s.text.strip()),
                ocr=_ocr_lines(scene, outputs.ocr[scene.id]),
                labels=_labels(outputs.labels[scene.id]),
                faces_count=outputs.faces[scene.id],
                people=tuple(sorted(scene_people[scene.id])),
                vectors=found,
            )
        )
    return moments


def _segment_moments(
    snapshot: AssetSnapshot,
    vectors: _Vectors,
    moment_vectors: dict[VectorField, list[npt.NDArray[np.float32]]],
) -> list[MomentDocument]:
    moments: list[MomentDocument] = []
    for segment in snapshot.segments:
        if not segment.text.strip():
            continue
        found: dict[VectorField, Vector] = {}
        for vector_field in vectors.spec.vectors:
            vector = vectors.wrap(vector_field, vectors.get(_SEGMENT, segment.id, vector_field))
            if vector is not None:
                found[vector_field] = vector
                moment_vectors[vector_field].append(vector.values)
        moments.append(
            MomentDocument(
                scene_id=str(segment.id),
                start_s=segment.start_s,
                end_s=max(segment.end_s, segment.start_s),
                transcript=(_spoken(segment),),
                vectors=found,
            )
        )
    return moments


def _scene_at(scenes: Sequence[SceneRow], time_s: float) -> uuid.UUID | None:
    for scene in scenes:
        if scene.start_s <= time_s < scene.end_s or scene.start_s == scene.end_s == time_s:
            return scene.id
    return scenes[-1].id if scenes and time_s >= scenes[-1].end_s else None


def _ocr_lines(scene: SceneRow, detections: Sequence[DetectionRow]) -> tuple[TimedText, ...]:
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


def _labels(detections: Sequence[DetectionRow]) -> tuple[str, ...]:
    best: dict[str, float] = {}
    for detection in detections:
        best[detection.label] = max(best.get(detection.label, 0.0), detection.confidence)
    return tuple(sorted(best, key=lambda label: (-best[label], label)))

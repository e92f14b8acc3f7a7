"""What the index stage hands to a search backend: one asset and its scene-level moments.

An ``AssetDocument`` carries the asset-wide fields (tenant, kind, tags, dates, user metadata)
once; backends copy them onto every moment they store so a moment can be filtered without a
join. Every vector names the model version that produced it, so a generation built for one
model never mixes in vectors from another.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from search.backend import VectorSpec

MetadataValue = str | int | float | bool
FloatArray = npt.NDArray[np.float32]
# What callers may pass as vector values: lists, or numpy arrays of any float width.
VectorLike = Sequence[float] | npt.NDArray[np.floating[Any]]

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


class DocumentError(ValueError):
    """A document the backend refuses before writing anything."""


class Modality(enum.StrEnum):
    """The space an embedding lives in (the service stores embeddings by it)."""

    TEXT = "text"
    IMAGE = "image"
    BRIDGE = "bridge"


class VectorField(enum.StrEnum):
    """The vector spaces a document can be searched in."""

    TEXT = "text"
    VISUAL = "visual"
    # Text-to-image bridge: an image described in the text embedding space (see ENVIRONMENT.md).
    BRIDGE = "bridge"
    # CLIP's image tower (when a CLIP directory is configured): pictures in CLIP's joint
    # text-image space, searched with CLIP text embeddings of the query.
    CLIP = "clip"


# Which embedding modality fills which search vector field.
FIELD_MODALITY: Mapping[VectorField, Modality] = {
    VectorField.TEXT: Modality.TEXT,
    VectorField.VISUAL: Modality.IMAGE,
    VectorField.BRIDGE: Modality.BRIDGE,
    # The embed stage stores CLIP image vectors as bridge rows (text-to-image vectors); the
    # model (name, version, dims) tells them apart from the ImageNet bridge's.
    VectorField.CLIP: Modality.BRIDGE,
}
# Router tasks whose model fills each field (the models a new generation is built for, and the
# ones that embed a query for it).
FIELD_TASK: Mapping[VectorField, str] = {
    VectorField.TEXT: "embed_text",
    VectorField.VISUAL: "embed_image",
    VectorField.BRIDGE: "embed_bridge",
    VectorField.CLIP: "embed_image_clip",
}


def model_key(name: str, version: str) -> str:
    """How a vector's model is named in search generations: the registry key ``name:version``."""
    return f"{name}:{version}"


class StoredFields:
    """Which of a generation's vector fields a stored embedding row fills: the field's modality,
    model (``model_key``) and dimensionality must all match."""

    def __init__(self, vectors: Mapping[VectorField, VectorSpec]) -> None:
        self._by_source = {
            (FIELD_MODALITY[vector_field], spec.model_version, spec.dims): vector_field
            for vector_field, spec in vectors.items()
        }

    def field_of(
        self, modality: Modality, model_name: str, model_version: str, dims: int
    ) -> VectorField | None:
        """The field an embedding of this modality, model and size fills, if any."""
        return self._by_source.get((modality, model_key(model_name, model_version), dims))


class DocType(enum.StrEnum):
    """What a stored search document stands for."""

    ASSET = "asset"
    MOMENT = "moment"


@dataclass(frozen=True, slots=True, eq=False)
class Vector:
    """One embedding and the model version that produced it."""

    values: FloatArray
    model_version: str

    @classmethod
    def of(cls, values: VectorLike, model_version: str) -> Vector:
        """A float32 copy of ``values``; rejects empty, zero and non-finite vectors."""
        array = np.asarray(values, dtype=np.float32).reshape(-1)
        if array.size == 0:
            raise DocumentError("empty vector")
        if not np.all(np.isfinite(array)):
            raise DocumentError("vector has non-finite components")
        # Cosine similarity is undefined for the zero vector, and Elasticsearch rejects it.
        if float(np.dot(array, array)) == 0.0:
            raise DocumentError("zero vector")
        if not model_version:
            raise DocumentError("vector without a model version")
        return cls(values=array, model_version=model_version)

    @property
    def dims(self) -> int:
        """Number of components."""
        return int(self.values.shape[0])


@dataclass(frozen=True, slots=True)
class TimedWord:
    """One word of a transcript segment and when it is spoken (seconds from the start)."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True, slots=True)
class TimedText:
    """A piece of text with the time range it is spoken or shown (seconds from the start)."""

    start_s: float
    end_s: float
    text: str
    # Speech only, when the speech model timed its words: a time code then starts at the
    # matched word, not at the segment (which often begins in the silence before it).
    words: tuple[TimedWord, ...] = ()


def timed_rows(items: Sequence[TimedText]) -> list[list[Any]]:
    """``[start_s, end_s, text]`` rows (plus ``[[start_s, end_s, word], ...]`` when the words
    are timed): how both backends store timed texts beside a document."""
    rows: list[list[Any]] = []
    for item in items:
        row: list[Any] = [item.start_s, item.end_s, item.text]
        if item.words:
            row.append([[word.start_s, word.end_s, word.text] for word in item.words])
        rows.append(row)
    return rows


def timed_texts(rows: Iterable[Sequence[Any]] | None) -> tuple[TimedText, ...]:
    """The timed texts stored as :func:`timed_rows` (rows written before words were stored
    have three elements)."""
    return tuple(
        TimedText(
            float(row[0]),
            float(row[1]),
            str(row[2]),
            tuple(TimedWord(float(w[0]), float(w[1]), str(w[2])) for w in (row[3] if len(row) > 3 else ())),
        )
        for row in rows or ()
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MomentDocument:
    """One scene of an asset: the unit search returns so a player can jump to it."""

    scene_id: str
    start_s: float
    end_s: float
    title: str = ""
    transcript: tuple[TimedText, ...] = ()
    ocr: tuple[TimedText, ...] = ()
    labels: tuple[str, ...] = ()
    faces_count: int = 0
    # Names of the named, visible people with a face track in this scene.
    people: tuple[str, ...] = ()
    vectors: Mapping[VectorField, Vector] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetDocument:
    """An asset with every moment it has; indexing it replaces whatever was stored for it.

    ``version`` orders writes for the same asset: a write or delete carrying a lower version
    than what is stored is stale and changes nothing. The index stage uses a number that only
    grows per asset (the asset row's ``updated_at`` in microseconds).
    """

    tenant_id: str
    asset_id: str
    version: int
    kind: str
    title: str
    created_at: datetime
    description: str = ""
    tags: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    # Everything said and shown in the asset (each line once), so whole-asset search finds
    # an asset by its speech and on-screen text, not only its title.
    transcript: tuple[TimedText, ...] = ()
    ocr: tuple[TimedText, ...] = ()
    language: str | None = None
    duration_s: float | None = None
    faces_count: int = 0
    # The named, visible people seen in the asset: their names are searchable text and
    # their ids (copied onto every moment) what a person filter matches.
    people: tuple[str, ...] = ()
    person_ids: tuple[str, ...] = ()
    user_metadata: Mapping[str, MetadataValue] = field(default_factory=dict)
    vectors: Mapping[VectorField, Vector] = field(default_factory=dict)
    moments: tuple[MomentDocument, ...] = ()

    def validate(self) -> None:
        """Raise ``DocumentError`` when a backend could not store this asset faithfully."""
        check_id(self.tenant_id, "tenant_id")
        check_id(self.asset_id, "asset_id")
        if self.version < 0:
            raise DocumentError("version must be >= 0")
        if self.created_at.tzinfo is None:
            raise DocumentError("created_at must be timezone-aware")
        if self.duration_s is not None and not math.isfinite(self.duration_s):
            raise DocumentError("duration_s must be finite")
        for key, value in self.user_metadata.items():
            if not key or "." in key:
                # Dots would be read as object paths by Elasticsearch's flattened field.
                raise DocumentError(f"user metadata key {key!r} must be non-empty and dot-free")
            if isinstance(value, float) and not math.isfinite(value):
                raise DocumentError(f"user metadata {key!r} must be finite")
        for person_id in self.person_ids:
            check_id(person_id, "person_id")
        seen: set[str] = set()
        for moment in self.moments:
            check_id(moment.scene_id, "scene_id")
            if moment.scene_id in seen:
                raise DocumentError(f"scene {moment.scene_id} appears twice")
            seen.add(moment.scene_id)
            if not (math.isfinite(moment.start_s) and math.isfinite(moment.end_s)):
                raise DocumentError("moment times must be finite")
            if moment.end_s < moment.start_s:
                raise DocumentError(f"scene {moment.scene_id} ends before it starts")


def check_id(value: str, what: str) -> None:
    """Identifiers end up in document ids and SQL parameters: keep them plain."""
    if not _ID_RE.match(value):
        raise DocumentError(f"{what} {value!r} is not a plain identifier")


def asset_doc_id(asset_id: str) -> str:
    """Id of an asset's own search document."""
    return f"a:{asset_id}"


def moment_doc_id(asset_id: str, scene_id: str) -> str:
    """Id of a moment's search document (deterministic, so a rewrite replaces it)."""
    return f"m:{asset_id}:{scene_id}"


def metadata_token(value: MetadataValue) -> str:
    """The canonical string a metadata value is stored and compared as (in both backends).

    Elasticsearch's ``flattened`` type keeps every leaf as a keyword string, so equality is
    string equality there; normalising numbers (2020 == 2020.0) and booleans here makes both
    backends agree on which documents a metadata filter matches.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return value

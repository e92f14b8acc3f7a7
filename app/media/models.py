"""What the pipeline learned about an asset: scenes, speech, detections, vectors, links.

Every row records the model name and version that produced it. A stage replaces its own
earlier rows for the same (asset, model name, model version) in one transaction, so a
redelivered message changes nothing and a new model version never mixes with an old one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.assets.models import Asset
from app.core.db import Base, UUIDPrimaryKey, utcnow
from app.core.enums import DetectionKind, Modality, OwnerType, SimilarityKind, enum_column


class ModelOutput:
    """Columns every model output row has."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Scene(UUIDPrimaryKey, ModelOutput, Base):
    """A shot of a video, the single frame of an image, or a speech span of audio."""

    __tablename__ = "scene"
    __table_args__ = (UniqueConstraint("asset_id", "model_name", "model_version", "ordinal"),)

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int]
    start_s: Mapped[float]
    end_s: Mapped[float]
    keyframe_blob_key: Mapped[str | None] = mapped_column(String(200), default=None)
    thumbnail_blob_key: Mapped[str | None] = mapped_column(String(200), default=None)
    # Perceptual hash of the keyframe (hex), used for near-duplicate candidates.
    phash: Mapped[str | None] = mapped_column(String(64), default=None)

    asset: Mapped[Asset] = relationship(lazy="raise")


class TranscriptSegment(UUIDPrimaryKey, ModelOutput, Base):
    """A span of recognised speech (or a chunk of a text asset) with word timings."""

    __tablename__ = "transcript_segment"
    __table_args__ = (Index("ix_transcript_segment_asset_start", "asset_id", "start_s"),)

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    scene_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scene.id", ondelete="SET NULL"), index=True, default=None
    )
    ordinal: Mapped[int] = mapped_column(default=0)
    start_s: Mapped[float]
    end_s: Mapped[float]
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    confidence: Mapped[float | None] = mapped_column(default=None)
    # [{"word": str, "start": float, "end": float, "probability": float}, ...]
    words: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    # "name:version" of the model whose output this row is, when not the pass's own model
    # (model_name, model_version): a span escalated to the accurate model (inference.routing).
    produced_by: Mapped[str | None] = mapped_column(String(200), default=None)
    # Whisper's mean token log-probability and no-speech probability of the segment: what the
    # escalation rule reads (inference.routing.EscalationRule); NULL on rows from before 0009.
    avg_logprob: Mapped[float | None] = mapped_column(default=None)
    no_speech_prob: Mapped[float | None] = mapped_column(default=None)

    asset: Mapped[Asset] = relationship(lazy="raise")


class Detection(UUIDPrimaryKey, ModelOutput, Base):
    """A label, a face or a piece of on-screen text found in a frame."""

    __tablename__ = "detection"
    __table_args__ = (Index("ix_detection_asset_kind", "asset_id", "kind"),)

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    scene_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scene.id", ondelete="SET NULL"), index=True, default=None
    )
    kind: Mapped[DetectionKind] = mapped_column(enum_column(DetectionKind))
    time_s: Mapped[float] = mapped_column(default=0.0)
    # For kind=label the class name, kind=face "face", kind=text the recognised text.
    label: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float]
    # Normalised [0, 1] box: x, y, width, height. None for whole-frame labels.
    box_x: Mapped[float | None] = mapped_column(default=None)
    box_y: Mapped[float | None] = mapped_column(default=None)
    box_w: Mapped[float | None] = mapped_column(default=None)
    box_h: Mapped[float | None] = mapped_column(default=None)

    asset: Mapped[Asset] = relationship(lazy="raise")


class Embedding(UUIDPrimaryKey, ModelOutput, Base):
    """A vector of an asset, scene or segment, kept so any index can be rebuilt from here."""

    __tablename__ = "embedding"
    __table_args__ = (
        UniqueConstraint("owner_type", "owner_id", "modality", "model_name", "model_version"),
        Index("ix_embedding_asset", "asset_id"),
    )

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    owner_type: Mapped[OwnerType] = mapped_column(enum_column(OwnerType))
    owner_id: Mapped[uuid.UUID]
    modality: Mapped[Modality] = mapped_column(enum_column(Modality))
    dimension: Mapped[int]
    # Little-endian float32, `dimension` values.
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # sha256 of the embedded content: unchanged content is not embedded twice.
    content_sha256: Mapped[str | None] = mapped_column(String(64), default=None)


class SimilarityEdge(UUIDPrimaryKey, ModelOutput, Base):
    """A scored link between two assets or two scenes."""

    __tablename__ = "similarity_edge"
    __table_args__ = (
        UniqueConstraint("source_type", "source_id", "target_type", "target_id", "kind", "model_version"),
        Index("ix_similarity_edge_source_asset", "source_asset_id"),
        Index("ix_similarity_edge_target_asset", "target_asset_id"),
    )

    source_type: Mapped[OwnerType] = mapped_column(enum_column(OwnerType))
    source_id: Mapped[uuid.UUID]
    source_asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    target_type: Mapped[OwnerType] = mapped_column(enum_column(OwnerType))
    target_id: Mapped[uuid.UUID]
    target_asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    kind: Mapped[SimilarityKind] = mapped_column(enum_column(SimilarityKind))
    score: Mapped[float]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AudioFingerprint(UUIDPrimaryKey, ModelOutput, Base):
    """The Chromaprint fingerprint of an audio asset or of a video's sound track."""

    __tablename__ = "audio_fingerprint"
    __table_args__ = (UniqueConstraint("asset_id", "model_name", "model_version"),)

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    duration_s: Mapped[float]
    # Little-endian uint32 raw Chromaprint values (one per ~0.124 s of audio).
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)

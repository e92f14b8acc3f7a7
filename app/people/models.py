"""Faces, face tracks and the people they are clustered into.

- ``Face``: a described face of one analysed frame (a track's best face), with its box and
  its 128-d descriptor (little-endian float32, like ``Embedding.vector``), stamped with the
  model that computed it.
- ``FaceTrack``: one on-screen appearance: the faces of one shot followed across its sampled
  frames, with start and end time, the best face (largest, most confident) as its crop, and
  the mean descriptor clustering compares. An image has one track per face.
- ``Person``: a tenant's cluster of tracks with a stable id. Tracks join the nearest person
  under the distance threshold as assets arrive. ``locked`` tracks were placed by an editor
  (moved, merged); no later clustering, re-cluster or reprocess moves them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey
from app.media.models import ModelOutput


class Person(UUIDPrimaryKey, Timestamps, Base):
    """A tenant's person: a cluster of face tracks, named and hidden by editors."""

    __tablename__ = "person"
    __table_args__ = (Index("ix_person_tenant_name", "tenant_id", "name"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(Text, default=None)
    hidden: Mapped[bool] = mapped_column(default=False)
    # Mean of the member tracks' descriptors (float32 LE), kept current by the repository.
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # The descriptor model the centroid is in; persons of another model version never match.
    model_version: Mapped[str] = mapped_column(String(100), default="")
    # The track whose best face is the person's cover; None: the largest member's.
    cover_track_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # Where this person went when an editor merged it away (its old id still resolves).
    # Indexed: deleting a person sets this to NULL in the persons merged into it (a scan of
    # every person without the index), and a merge re-points the older merges by it.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), default=None, index=True
    )


class FaceTrack(UUIDPrimaryKey, ModelOutput, Base):
    """One appearance of one face in an asset: a shot's faces followed across sampled frames."""

    __tablename__ = "face_track"
    __table_args__ = (
        Index("ix_face_track_asset", "asset_id"),
        Index("ix_face_track_person", "person_id"),
    )

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    # Indexed like the other scene references: every scenes run deletes the asset's scenes,
    # and each deleted scene sets this to NULL in its tracks (a scan of every track without it).
    scene_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scene.id", ondelete="SET NULL"), default=None, index=True
    )
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), default=None
    )
    # An editor put this track in its person: clustering and reprocessing keep it there.
    locked: Mapped[bool] = mapped_column(default=False)
    start_s: Mapped[float]
    end_s: Mapped[float]
    face_count: Mapped[int] = mapped_column(default=1)
    # The best face: its frame time, normalised box, detector score and stored crop.
    best_time_s: Mapped[float] = mapped_column(default=0.0)
    box_x: Mapped[float]
    box_y: Mapped[float]
    box_w: Mapped[float]
    box_h: Mapped[float]
    score: Mapped[float] = mapped_column(default=0.0)
    crop_blob_key: Mapped[str | None] = mapped_column(String(200), default=None)
    # Mean of the track's face descriptors (float32 LE, 128 values).
    descriptor: Mapped[bytes] = mapped_column(LargeBinary)


class Face(UUIDPrimaryKey, ModelOutput, Base):
    """A described face: one face of one analysed frame and its descriptor (a track's best
    face; the descriptor model runs once per track, not per sampled frame)."""

    __tablename__ = "face"
    __table_args__ = (Index("ix_face_asset", "asset_id"),)

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    track_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("face_track.id", ondelete="CASCADE"), index=True)
    time_s: Mapped[float]
    box_x: Mapped[float]
    box_y: Mapped[float]
    box_w: Mapped[float]
    box_h: Mapped[float]
    score: Mapped[float]
    dimension: Mapped[int] = mapped_column(default=128)
    descriptor: Mapped[bytes] = mapped_column(LargeBinary)

"""Assets: the media items everything else hangs off."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey, utcnow
from app.core.enums import AssetKind, AssetStatus, DuplicateVerdict, enum_column


class Asset(UUIDPrimaryKey, Timestamps, Base):
    """One ingested video, audio file, image or text document."""

    __tablename__ = "asset"
    __table_args__ = (
        # Idempotent ingestion: the same bytes registered twice by one tenant are one asset.
        UniqueConstraint("tenant_id", "content_sha256"),
        Index("ix_asset_tenant_created", "tenant_id", "created_at", "id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AssetKind] = mapped_column(enum_column(AssetKind))
    status: Mapped[AssetStatus] = mapped_column(enum_column(AssetStatus), default=AssetStatus.REGISTERED)
    title: Mapped[str] = mapped_column(String(500))
    source_uri: Mapped[str | None] = mapped_column(Text, default=None)
    blob_key: Mapped[str] = mapped_column(String(200))
    content_sha256: Mapped[str] = mapped_column(String(64))
    mime_type: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float | None] = mapped_column(default=None)
    width: Mapped[int | None] = mapped_column(default=None)
    height: Mapped[int | None] = mapped_column(default=None)
    frame_rate: Mapped[float | None] = mapped_column(default=None)
    audio_channels: Mapped[int | None] = mapped_column(default=None)
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    # Technical facts from the probe stage (container, codecs, streams).
    media_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class IngestKey(UUIDPrimaryKey, Base):
    """A client idempotency key of an ingest call and what that call registered.

    Inserted before anything else the call writes, so the unique constraint serialises two
    concurrent calls with one key: the second waits for the first and replays its result.
    """

    __tablename__ = "ingest_key"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    # No index of its own: the unique constraint's index leads with it.
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    # The content the key stands for: the asset is the tenant's one with this hash.
    content_sha256: Mapped[str] = mapped_column(String(64))
    # The job the key's call created; None when the content was already registered.
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("job.id", ondelete="SET NULL"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DuplicateDecision(UUIDPrimaryKey, Timestamps, Base):
    """An editor's verdict on a pair of assets the similarity stage called near-duplicates.

    Kept apart from the edges on purpose: a reprocess replaces an asset's edges, never the
    decisions, so a pair declared not-duplicate stays declared and a marked duplicate stays
    hidden. One row per pair (``low_asset_id`` sorts before ``high_asset_id``); a later
    decision about the same pair updates it.
    """

    __tablename__ = "duplicate_decision"
    __table_args__ = (
        UniqueConstraint("tenant_id", "low_asset_id", "high_asset_id"),
        Index("ix_duplicate_decision_high_asset", "high_asset_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    low_asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    high_asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    verdict: Mapped[DuplicateVerdict] = mapped_column(enum_column(DuplicateVerdict))
    # For verdict=duplicate: the asset kept, and the one hidden from lists and search.
    kept_asset_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    duplicate_asset_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    # The API key (or CLI user) that decided, as in the audit trail.
    actor: Mapped[str] = mapped_column(String(200))

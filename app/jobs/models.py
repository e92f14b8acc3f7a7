"""Jobs and their stages: the database is the memory of what is left to do."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.assets.models import Asset
from app.core.db import Base, Timestamps, UUIDPrimaryKey
from app.core.enums import JobQuality, JobStatus, StageStatus, enum_column


class Job(UUIDPrimaryKey, Timestamps, Base):
    """One run of a pipeline over one asset."""

    __tablename__ = "job"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_job_status_queue", "status", "queue"),
        Index("ix_job_asset", "asset_id", "created_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    pipeline: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(50), default="realtime")
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus), default=JobStatus.QUEUED)
    progress: Mapped[float] = mapped_column(default=0.0)
    current_stage: Mapped[str | None] = mapped_column(String(100), default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(String(100), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    priority: Mapped[int] = mapped_column(default=0)
    quality: Mapped[JobQuality] = mapped_column(
        enum_column(JobQuality), default=JobQuality.ROUTED, server_default=JobQuality.ROUTED.value
    )
    # The job to queue on the batch queue once this one completes (a fast pass that flagged
    # low-confidence spans asks for an ESCALATION follow-up), or None.
    follow_up: Mapped[JobQuality | None] = mapped_column(enum_column(JobQuality), default=None)
    # Stages this run was asked for (None: the whole pipeline); reprocessing names a subset.
    requested_stages: Mapped[list[str] | None] = mapped_column(default=None)
    # W3C trace context of the request that created the job (traceparent, tracestate).
    trace_context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cost: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    asset: Mapped[Asset] = relationship(lazy="raise")
    stages: Mapped[list[JobStage]] = relationship(
        back_populates="job", lazy="raise", order_by="JobStage.ordinal"
    )


class JobStage(UUIDPrimaryKey, Timestamps, Base):
    """One stage of a job; its status guards against running a stage twice."""

    __tablename__ = "job_stage"
    __table_args__ = (
        UniqueConstraint("job_id", "name"),
        Index("ix_job_stage_status_lease", "status", "lease_expires_at"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    ordinal: Mapped[int] = mapped_column(default=0)
    status: Mapped[StageStatus] = mapped_column(enum_column(StageStatus), default=StageStatus.PENDING)
    progress: Mapped[float] = mapped_column(default=0.0)
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_s: Mapped[float | None] = mapped_column(default=None)
    model_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Per model the stage's runs used (retried runs included, like Job.cost): {"model":
    # "name:version", "task", "calls", "inputs", "input_unit" (audio_seconds, images, texts,
    # faces), "wall_seconds", "cpu_seconds", "gpu_seconds", "mean_confidence",
    # "confidence_weight"} (app.core.telemetry.model_usage.ModelUsage).
    model_usage: Mapped[list[dict[str, Any]]] = mapped_column(default=list, server_default="[]")
    error_code: Mapped[str | None] = mapped_column(String(100), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    skip_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Lease: who runs the stage and until when; an expired lease may be taken over.
    lease_owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the stage's message was last sent: lets the sweeper find lost messages.
    enqueued_at: Mapped[datetime | None] = mapped_column(default=None)

    job: Mapped[Job] = relationship(back_populates="stages", lazy="raise")

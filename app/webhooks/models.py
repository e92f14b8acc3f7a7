"""Webhook endpoints, one delivery per (event, endpoint), and every attempt at it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey, utcnow


class DeliveryStatus(enum.StrEnum):
    """Where a delivery stands."""

    PENDING = "PENDING"  # queued; the first attempt or a retry is due at next_attempt_at
    SUCCEEDED = "SUCCEEDED"  # the receiver answered 2xx
    DEAD = "DEAD"  # every attempt of the schedule failed: dead-lettered (redeliver to try again)


class Webhook(UUIDPrimaryKey, Timestamps, Base):
    """An endpoint of a tenant and the event types it receives."""

    __tablename__ = "webhook"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(default=list)
    # The HMAC key, shown once at creation; kept in clear because signing needs it.
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)


class WebhookDelivery(UUIDPrimaryKey, Base):
    """One event for one endpoint. ``id`` is the idempotency id: the same on every attempt."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookAttempt(UUIDPrimaryKey, Base):
    """One HTTP request of a delivery: its answer (or why there was none) and how long it took."""

    __tablename__ = "webhook_attempt"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[float]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)

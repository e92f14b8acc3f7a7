"""Tenants and their API keys."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey


class Scope(enum.StrEnum):
    """What a key may do. Scopes do not imply each other: an admin key that should also
    read and write is given all three."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Tenant(UUIDPrimaryKey, Timestamps, Base):
    """An isolated customer: every tenant-owned row carries its id."""

    __tablename__ = "tenant"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class ApiKey(UUIDPrimaryKey, Timestamps, Base):
    """A credential of a tenant. Only a hash of the secret is stored."""

    __tablename__ = "api_key"
    # A name is the key's identity in the audit trail: never reused within a tenant, not
    # even after revocation, so an actor name always means one key.
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Public lookup part of the key ("mkg_<prefix>_<secret>"): finds the row without a scan.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

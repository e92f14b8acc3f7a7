"""SQL for assets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.models import Asset, IngestKey


async def get_by_sha(session: AsyncSession, *, tenant_id: uuid.UUID, sha256: str) -> Asset | None:
    """The tenant's asset with this content, deleted or not."""
    return await session.scalar(
        select(Asset).where(Asset.tenant_id == tenant_id, Asset.content_sha256 == sha256)
    )


async def get(session: AsyncSession, *, tenant_id: uuid.UUID, asset_id: uuid.UUID) -> Asset | None:
    """The tenant's live (not deleted) asset with this id."""
    return await session.scalar(
        select(Asset).where(Asset.tenant_id == tenant_id, Asset.id == asset_id, Asset.deleted_at.is_(None))
    )


async def get_ingest_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, key: str, lock: bool = False
) -> IngestKey | None:
    """The tenant's record of an ingest idempotency key; ``lock`` holds its row (PostgreSQL)
    until the transaction ends, so concurrent calls with the key take turns."""
    query = select(IngestKey).where(IngestKey.tenant_id == tenant_id, IngestKey.key == key)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def recently_deleted_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, since: datetime, limit: int
) -> list[uuid.UUID]:
    """Ids of the tenant's assets deleted at or after ``since``, newest deletion first (at most
    ``limit``): one indexed statement."""
    rows = await session.scalars(
        select(Asset.id)
        .where(Asset.tenant_id == tenant_id, Asset.deleted_at.is_not(None), Asset.deleted_at >= since)
        .order_by(Asset.deleted_at.desc())
        .limit(limit)
    )
    return list(rows)


async def referenced_blob_keys(session: AsyncSession, *, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` an asset of any tenant, deleted or not, stores its content under (the
    blob sweep's question: a deleted asset keeps its blob for a re-ingest to restore it)."""
    rows = await session.scalars(select(Asset.blob_key).where(Asset.blob_key.in_(keys)))
    return set(rows)

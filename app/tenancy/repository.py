"""SQL of tenants and API keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.tenancy.models import ApiKey, Tenant


async def tenant_by_slug(session: AsyncSession, *, slug: str) -> Tenant | None:
    """The tenant named ``slug``, if it exists."""
    tenant: Tenant | None = await session.scalar(select(Tenant).where(Tenant.slug == slug))
    return tenant


async def key_by_prefix(session: AsyncSession, *, prefix: str) -> tuple[ApiKey, Tenant] | None:
    """The key with the public ``prefix`` and its tenant (one statement)."""
    row = (
        await session.execute(
            select(ApiKey, Tenant).join(Tenant, Tenant.id == ApiKey.tenant_id).where(ApiKey.prefix == prefix)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def key_by_name(session: AsyncSession, *, tenant_id: uuid.UUID, name: str) -> ApiKey | None:
    """The tenant's key called ``name``, revoked or not."""
    key: ApiKey | None = await session.scalar(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.name == name)
    )
    return key


async def list_keys(session: AsyncSession, *, tenant_id: uuid.UUID | None) -> Sequence[tuple[ApiKey, Tenant]]:
    """Every key (of one tenant, or of all), by tenant slug and name."""
    stmt = select(ApiKey, Tenant).join(Tenant, Tenant.id == ApiKey.tenant_id)
    if tenant_id is not None:
        stmt = stmt.where(ApiKey.tenant_id == tenant_id)
    rows = await session.execute(stmt.order_by(Tenant.slug, ApiKey.name))
    return [(key, tenant) for key, tenant in rows.tuples()]


async def touch_key(session: AsyncSession, *, key_id: uuid.UUID, at: datetime) -> None:
    """Record that the key was used at ``at`` (without loading or re-validating the row)."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .values(last_used_at=at)
        .execution_options(synchronize_session=False)
    )

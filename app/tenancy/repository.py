"""SQL of tenants and API keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.tenancy.models import Tenant


async def tenant_by_slug(session: AsyncSession, *, slug: str) -> Tenant | None:
    """The tenant named ``slug``, if it exists."""
    tenant: Tenant | None = await session.scalar(select(Tenant).where(Tenant.slug == slug))
    return tenant

"""Tenants."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.tenancy.models import Tenant


async def ensure_tenant(session: AsyncSession, *, slug: str, name: str | None = None) -> Tenant:
    """The tenant with ``slug``, created if missing (does not commit)."""
    tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        tenant = Tenant(slug=slug, name=name or slug)
        session.add(tenant)
        await session.flush()
    return tenant

"""Tenants."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.tenancy import repository
from app.tenancy.models import Tenant


async def ensure_tenant(session: AsyncSession, *, slug: str, name: str | None = None) -> Tenant:
    """The tenant with ``slug``, created if missing (does not commit)."""
    tenant = await repository.tenant_by_slug(session, slug=slug)
    if tenant is not None:
        return tenant
    tenant = Tenant(slug=slug, name=name or slug)
    try:
        # Two processes starting at once (API and worker) both try to create it: the
        # savepoint lets the loser read the winner's row instead of failing its transaction.
        async with session.begin_nested():
            session.add(tenant)
            await session.flush()
    except IntegrityError:
        winner = await repository.tenant_by_slug(session, slug=slug)
        if winner is None:
            raise
        return winner
    return tenant

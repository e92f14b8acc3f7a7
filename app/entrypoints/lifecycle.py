"""Start-up steps shared by `mediakg serve`, `mediakg ingest` and workers."""

from __future__ import annotations

import uuid

from app.core import migrate
from app.core.container import Services
from app.core.db import check_database, session_scope
from app.tenancy.service import ensure_tenant


async def prepare(services: Services) -> uuid.UUID:
    """Check the database, migrate it if configured, ensure the default tenant; its id."""
    await check_database(services.engine)
    if services.settings.auto_migrate:
        await migrate.upgrade_async(services.settings.database_url)
    async with session_scope(services.session_factory) as session:
        tenant = await ensure_tenant(session, slug=services.settings.default_tenant)
        return tenant.id

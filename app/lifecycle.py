"""Start-up steps shared by `mediakg serve`, `mediakg ingest` and workers."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app import migrate
from app.container import Services
from app.db import session_scope
from app.tenancy.service import ensure_tenant


class DatabaseUnavailableError(RuntimeError):
    """The configured database cannot be reached or opened."""


def describe_database(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


async def check_database(services: Services) -> None:
    """Raise DatabaseUnavailableError with a clear message unless ``SELECT 1`` works."""
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, OperationalError, InterfaceError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseUnavailableError(
            f"database {describe_database(services.settings.database_url)} is unreachable: {reason}"
        ) from exc


async def prepare(services: Services) -> uuid.UUID:
    """Check the database, migrate it if configured, ensure the default tenant; its id."""
    await check_database(services)
    if services.settings.auto_migrate:
        await migrate.upgrade_async(services.settings.database_url)
    async with session_scope(services.session_factory) as session:
        tenant = await ensure_tenant(session, slug=services.settings.default_tenant)
        return tenant.id

"""Start-up steps shared by `mediakg serve`, `mediakg ingest` and workers."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app.core import migrate
from app.core.container import Services
from app.core.db import session_scope
from app.tenancy.service import ensure_tenant


class DatabaseUnavailableError(RuntimeError):
    """The configured database cannot be reached or opened."""


def describe_database(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def _open_sqlite_file(url: str) -> None:
    """Open and close the SQLite file of ``url`` with the standard module (creating it if
    missing, as the driver would)."""
    from sqlalchemy import make_url

    database = make_url(url).database
    if database and database != ":memory:":
        sqlite3.connect(database).close()


async def check_database(services: Services) -> None:
    """Raise DatabaseUnavailableError with a clear message unless ``SELECT 1`` works."""
    try:
        if services.settings.is_sqlite:
            # A file aiosqlite cannot open leaves its worker thread answering a loop that
            # asyncio.run may already have closed: a stray "Event loop is closed" traceback
            # after the one-line error (omnilib/aiosqlite#241). Opened here first, in a thread
            # asyncio.run waits for, the driver only ever sees an openable file.
            await asyncio.to_thread(_open_sqlite_file, services.settings.database_url)
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, sqlite3.Error, OperationalError, InterfaceError, DBAPIError) as exc:
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

"""Alembic migrations yield exactly the ORM metadata, and round-trip, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.core import migrate
from app.core.db import Base, create_engine


async def _reset(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    async with engine.begin() as conn:
        # The conftest fixture created the schema from metadata; migrations start from empty.
        await conn.run_sync(Base.metadata.drop_all)
        await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    await engine.dispose()


async def _diff(url: str) -> list[Any]:
    engine = create_engine(url, pool_size=1)

    def compare(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))

    async with engine.connect() as conn:
        diff = await conn.run_sync(compare)
    await engine.dispose()
    return diff


async def _tables(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names


@pytest.fixture
async def empty_database_url(database_url: str) -> AsyncIterator[str]:
    """An empty database: on PostgreSQL a scratch database beside the run's own, so a failed
    migration cannot break the rest of the suite; on SQLite the per-test file, emptied."""
    if not database_url.startswith("postgresql"):
        await _reset(database_url)
        yield database_url
        return
    url = make_url(database_url)
    scratch = f"{url.database}_migrations"
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    try:
        yield url.set(database=scratch).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        await admin.dispose()


@pytest.mark.slow
async def test_upgrade_head_matches_models_and_round_trips(empty_database_url: str) -> None:
    database_url = empty_database_url
    await migrate.upgrade_async(database_url)
    assert await _diff(database_url) == []
    expected = {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}
    assert await _tables(database_url) == expected

    await asyncio.to_thread(migrate.downgrade, database_url, "base")
    assert await _tables(database_url) == {"alembic_version"}

    await migrate.upgrade_async(database_url)
    assert await _diff(database_url) == []

"""Shared fixtures: a fresh database per test (SQLite file, or this run's PostgreSQL database),
settings pointing at a temporary data directory, the wired services and a tenant.

Which database: ``MEDIAKG_TEST_DATABASE_URL`` (PostgreSQL pass of scripts/test.sh) or, when
unset, a SQLite file per test. Tests that use the database are marked ``db`` automatically.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.core.container import Services
from app.core.db import Base, create_engine
from app.core.routing_policy import RoutingPolicy, TranscribeRouting
from app.core.settings import Settings
from app.entrypoints.bootstrap import build_services
from app.tenancy.models import Tenant
from app.tenancy.service import ensure_tenant
from tests.fixtures.required import skip_unless_required

PG_URL = os.environ.get("MEDIAKG_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("MEDIAKG_TEST_REDIS_URL", "")
REDIS_PREFIX = os.environ.get("MEDIAKG_TEST_REDIS_PREFIX", f"mkgtest_{uuid.uuid4().hex[:8]}")

DB_FIXTURES = {"database_url", "services", "session_factory", "tenant"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


_pg_schema_ready = False


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database with the current schema and no rows."""
    global _pg_schema_ready
    if not PG_URL:
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await engine.dispose()
        yield url
        return
    engine = create_engine(PG_URL, pool_size=2)
    async with engine.begin() as conn:
        if not _pg_schema_ready:
            # Once per run: this run's database is its own (scripts/test.sh creates it).
            await conn.run_sync(Base.metadata.drop_all)
            await conn.run_sync(Base.metadata.create_all)
            _pg_schema_ready = True
        else:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    await engine.dispose()
    yield PG_URL


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The data directory of the settings under test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    """The one directory local-path ingestion may read in tests."""
    path = tmp_path / "media"
    path.mkdir()
    return path


@pytest.fixture
def settings(database_url: str, data_dir: Path, media_root: Path) -> Settings:
    """Embedded-default settings on the test database."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        allowed_roots=[media_root],
        redis_key_prefix=REDIS_PREFIX,
        log_json=False,
        # Tests that need models load them through their fixtures; warming every stage model
        # at each worker start would cost seconds per test.
        warm_models=False,
        # No idle-time upgrade jobs appearing beside the jobs a test runs (tests/jobs/test_upgrades.py
        # turns it on).
        routing=RoutingPolicy(transcribe=TranscribeRouting(upgrade_when_idle=False)),
    )


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    """The wired services of one process."""
    svc = build_services(settings)
    try:
        yield svc
    finally:
        await svc.aclose()


@pytest.fixture
def session_factory(services: Services) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test database."""
    return services.session_factory


@pytest.fixture
async def tenant(session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> Tenant:
    """The default tenant."""
    async with session_factory() as session:
        row = await ensure_tenant(session, slug=settings.default_tenant)
        await session.commit()
        return row


@pytest.fixture
def redis_url() -> str:
    """URL of the test Redis server, or skip."""
    if not REDIS_URL:
        skip_unless_required("Redis not configured (set MEDIAKG_TEST_REDIS_URL; scripts/test.sh does)")
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    """This run's Redis key prefix."""
    return REDIS_PREFIX

"""Database engine, sessions and the declarative base shared by every domain."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from app.core.errors import DatabaseBusyError
from app.core.sqlite_driver import OneHopDBAPI

# Deterministic constraint names: Alembic can then drop and alter them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp; SQLite drops the offset, so it is re-attached as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every ORM model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[str]: JSONType,
        list[dict[str, Any]]: JSONType,
    }


class UUIDPrimaryKey:
    """A random UUID primary key, generated client-side so ids are known before flush."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


@event.listens_for(UUIDPrimaryKey, "init", propagate=True)
def _assign_id(target: UUIDPrimaryKey, _args: Any, kwargs: dict[str, Any]) -> None:
    # Ids exist from construction, so related rows can reference them before any flush.
    if kwargs.get("id") is None:
        kwargs["id"] = uuid.uuid4()


class Timestamps:
    """Creation and last-update times."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# SQLite writers wait this long for the write lock before the write fails as DatabaseBusyError.
WRITE_LOCK_TIMEOUT_S = 10.0


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, write_lock_timeout_s: float = WRITE_LOCK_TIMEOUT_S
) -> AsyncEngine:
    """The engine of units of work (reads and writes) for ``url``.

    SQLite gets WAL, foreign keys, and transactions that take the write lock when they begin
    (waiting at most ``write_lock_timeout_s``); reads that write nothing go through
    ``create_read_engine`` and never wait for that lock.
    """
    if _is_sqlite(url):
        # NullPool: a unit of work is short and rare next to reads; a pooled connection would
        # also outlive the event loop of a test or a worker thread that opened it.
        engine = create_async_engine(url, echo=echo, poolclass=NullPool, connect_args={"timeout": 30})
        # IMMEDIATE takes the write lock up front: a transaction that reads and then writes can
        # otherwise fail with SQLITE_BUSY_SNAPSHOT (which busy_timeout does not retry) when
        # another writer commits in between. In WAL readers are not blocked by it.
        _sqlite_connections(
            engine,
            busy_ms=max(1, int(write_lock_timeout_s * 1000)),
            pragma="PRAGMA journal_mode=WAL",
            begin="BEGIN IMMEDIATE",
        )
        return engine
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, pool_pre_ping=True, max_overflow=pool_size
    )


def create_read_engine(
    url: str, *, write_engine: AsyncEngine, echo: bool = False, pool_size: int = 10
) -> AsyncEngine:
    """The engine of read-only sessions: on SQLite a pool of query-only connections whose
    transactions are deferred (a WAL snapshot, no lock); elsewhere ``write_engine`` itself
    (PostgreSQL readers never wait for writers)."""
    if not _is_sqlite(url):
        return write_engine
    # Pooled: opening an aiosqlite connection starts a thread and runs the pragmas, which
    # would dominate a small read. aiosqlite (>= 0.22) answers on the caller's loop, so a
    # pooled connection serves any loop.
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=60,
        connect_args={"timeout": 30},
        # Each statement one hand-off to the driver's thread instead of four.
        module=OneHopDBAPI(),
    )

    # A read session that tries to write fails at once instead of taking the lock.
    _sqlite_connections(engine, busy_ms=30000, pragma="PRAGMA query_only=ON", begin="BEGIN DEFERRED")
    return engine


def _sqlite_connections(engine: AsyncEngine, *, busy_ms: int, pragma: str, begin: str) -> None:
    """Every connection of ``engine``: foreign keys, ``busy_ms``, ``pragma``; its transactions
    start with ``begin``."""

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        _take_over_transactions(dbapi_connection, busy_ms=busy_ms)
        cursor = dbapi_connection.cursor()
        cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def _take_over_transactions(dbapi_connection: Any, *, busy_ms: int) -> None:
    # The driver's own transaction handling defers BEGIN to the first write and turns
    # SAVEPOINT into a commit; take it over (SQLAlchemy's documented sqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (the API reads them afterwards)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked" (the write lock was not free in time)."""
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and "database is locked" in str(orig)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error.

    A write that could not get SQLite's write lock in time raises DatabaseBusyError (typed,
    retryable), never the driver's OperationalError.
    """
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException as exc:
            await session.rollback()
            if isinstance(exc, OperationalError) and is_lock_timeout(exc):
                raise DatabaseBusyError(
                    "the database is busy with other writes; retry shortly", retry_after_s=1.0
                ) from exc
            raise


class DatabaseUnavailableError(RuntimeError):
    """The configured database cannot be reached or opened."""


def _open_sqlite_file(database: str | None) -> None:
    """Open and close an SQLite file with the standard module (creating it if missing, as the
    driver would)."""
    if database and database != ":memory:":
        sqlite3.connect(database).close()


async def check_database(engine: AsyncEngine) -> None:
    """Raise DatabaseUnavailableError with a clear message unless ``SELECT 1`` works."""
    try:
        if engine.dialect.name == "sqlite":
            # A file aiosqlite cannot open leaves its worker thread answering a loop that
            # asyncio.run may already have closed: a stray "Event loop is closed" traceback
            # after the one-line error (omnilib/aiosqlite#241). Opened here first, in a thread
            # asyncio.run waits for, the driver only ever sees an openable file.
            await asyncio.to_thread(_open_sqlite_file, engine.url.database)
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
    except (OSError, sqlite3.Error, OperationalError, InterfaceError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseUnavailableError(
            f"database {engine.url.render_as_string(hide_password=True)} is unreachable: {reason}"
        ) from exc

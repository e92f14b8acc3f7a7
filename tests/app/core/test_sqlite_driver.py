"""The read pool's SQLite driver: a statement is one hand-off to aiosqlite's thread, and its
rows, errors and query-only guard are what the standard adapter gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import create_engine, create_read_engine


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"
    write = create_engine(url)
    read = create_read_engine(url, write_engine=write)
    async with write.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY, name TEXT)")
        await conn.exec_driver_sql("INSERT INTO t (x, name) VALUES (1, 'one'), (2, 'two'), (3, NULL)")
    try:
        yield write, read
    finally:
        await read.dispose()
        await write.dispose()


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions handed to aiosqlite's thread, in order."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return seen


async def test_a_read_statement_is_one_hand_off_with_its_rows(
    engines: tuple[AsyncEngine, AsyncEngine], hand_offs: list[str]
) -> None:
    _, read = engines
    async with read.connect() as conn:
        await conn.exec_driver_sql("SELECT 1")  # the connection and its BEGIN
        hand_offs.clear()
        result = await conn.execute(text("SELECT x, name FROM t WHERE x >= :low ORDER BY x"), {"low": 2})
        assert len(hand_offs) == 1
        assert list(result.keys()) == ["x", "name"]
        assert [tuple(row) for row in result] == [(2, "two"), (3, None)]
        empty = await conn.execute(text("SELECT x FROM t WHERE x > 10"))
        assert empty.all() == []
        assert len(hand_offs) == 2


async def test_errors_and_the_query_only_guard_come_through(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    _, read = engines
    async with read.connect() as conn:
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM missing"))
        await conn.rollback()
        with pytest.raises(OperationalError, match="readonly"):
            await conn.execute(text("UPDATE t SET name = 'x'"))
        await conn.rollback()
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 3

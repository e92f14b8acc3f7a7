"""The aiosqlite driver of the read pool, with statements that cost ONE hand-off to its thread.

aiosqlite runs each call of a connection or cursor in the connection's own thread and wakes
the event loop with the result: SQLAlchemy's adapter spends four such hand-offs on every
statement (open a cursor, execute, fetch all rows, close the cursor), each a thread switch and
a loop wake-up; under concurrent requests they were most of a read's cost. Here the whole
statement (execute, fetch, close) runs as one call in that thread and the cursor keeps the
rows, description, row count and last row id it brought back.

Used for read-only connections (``app/core/db.py``, ``create_read_engine``): no server-side
cursors, and statements return all their rows at once, as with SQLAlchemy's own adapter.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

Outcome = tuple[Any, list[Any], int, int | None]
"""description, rows, rowcount, lastrowid of one statement."""


def _run(connection: sqlite3.Connection, operation: str, parameters: Any) -> Outcome:
    """One statement, start to finish, in the driver's thread."""
    cursor = connection.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, operation: str, parameters: Sequence[Any]) -> Outcome:
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, parameters)
        return None, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statements run in one call in aiosqlite's thread (no driver cursor is
    kept open between calls)."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # The base class opens a driver cursor here (a hand-off of its own): not needed.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    def _keep(self, outcome: Outcome) -> None:
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _call(self, function: Any, operation: str, parameters: Any) -> Outcome:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            # aiosqlite's own queue (as SQLAlchemy's isolation_level setter uses it): the
            # function runs in the connection's thread, the only one that may touch it.
            # (aiosqlite's _execute is untyped.)
            outcome: Outcome = await connection._execute(  # type: ignore[no-untyped-call]
                function, connection._conn, operation, parameters
            )
        return outcome

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        self._keep(await self._call(_run, operation, parameters))

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._keep(await self._call(_run_many, operation, seq_of_parameters))

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection adapter with ``OneHopCursor``."""

    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module to pass as ``create_async_engine(..., module=OneHopDBAPI())``."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)

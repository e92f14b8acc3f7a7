"""Keyset pagination, the one framework every repository pages with, and the one cursor codec.

A page is the ``first`` rows strictly after the ordering values of the last row seen, so pages
stay stable while rows are inserted and cost the same at any depth. Relations are read for
many parents in ONE statement (``top_n_per_anchor``: a window function keeps the first N rows
per parent), so the API's loaders issue a fixed number of statements however many rows a
query touches.

A cursor is base64url of ``{"o": <tag>, "v": <values>}``: keyset cursors tag the ordering
(a cursor of one ordering is refused by another instead of silently skipping rows), offset
cursors of a search tag the query.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

RowT = TypeVar("RowT")
Values = tuple[Any, ...]


class ValueKind(enum.Enum):
    """How an ordering value travels through a cursor (JSON) and back."""

    INT = "int"
    FLOAT = "float"
    STR = "str"
    DATETIME = "datetime"
    UUID = "uuid"

    def dump(self, value: Any) -> Any:
        """A JSON-safe form of ``value``."""
        if self is ValueKind.DATETIME:
            return value.isoformat()
        if self is ValueKind.UUID:
            return str(value)
        return value

    def load(self, raw: Any) -> Any:
        """Inverse of ``dump``; ValueError on anything else."""
        if self is ValueKind.INT and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if self is ValueKind.FLOAT and isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if self is ValueKind.STR and isinstance(raw, str):
            return raw
        if self is ValueKind.DATETIME and isinstance(raw, str):
            value = datetime.fromisoformat(raw)
            if value.tzinfo is None:
                raise ValueError("cursor timestamp without a time zone")
            return value
        if self is ValueKind.UUID and isinstance(raw, str):
            return uuid.UUID(raw)
        raise ValueError(f"not a {self.value}: {raw!r}")


@dataclass(frozen=True, slots=True)
class Ordering:
    """A total order over one table: sort columns, then the id as the tie-breaker."""

    name: str
    columns: tuple[tuple[InstrumentedAttribute[Any], ValueKind], ...]
    descending: bool

    def values_of(self, row: Any) -> Values:
        """The ordering values of ``row`` (what a cursor after it records)."""
        return tuple(getattr(row, column.key) for column, _ in self.columns)

    def dump(self, values: Values) -> list[Any]:
        """JSON-safe ordering values."""
        return [kind.dump(v) for (_, kind), v in zip(self.columns, values, strict=True)]

    def load(self, raw: Sequence[Any]) -> Values:
        """Ordering values from their JSON form; ValueError when they do not fit."""
        if len(raw) != len(self.columns):
            raise ValueError("cursor has the wrong number of values")
        return tuple(kind.load(v) for (_, kind), v in zip(self.columns, raw, strict=True))

    def order_by(self) -> list[ColumnElement[Any]]:
        """ORDER BY clauses."""
        return [c.desc() if self.descending else c.asc() for c, _ in self.columns]

    def after(self, values: Values) -> ColumnElement[bool]:
        """Rows strictly after ``values``: (a, b) > (x, y) spelled out, which binds each value
        with its column's type (tuple comparison would lose SQLite's timestamp format)."""
        clauses: list[ColumnElement[bool]] = []
        for i, (column, _) in enumerate(self.columns):
            equal = [c == v for (c, _), v in zip(self.columns[:i], values[:i], strict=True)]
            beyond = column < values[i] if self.descending else column > values[i]
            clauses.append(and_(*equal, beyond))
        return or_(*clauses)


@dataclass(frozen=True, slots=True)
class Page:
    """A page request: at most ``first`` rows after the row with ordering values ``after``."""

    first: int
    after: Values | None = None


@dataclass(frozen=True, slots=True)
class PageRows(Generic[RowT]):
    """One page of rows, and whether more follow."""

    rows: list[RowT]
    has_next: bool


async def rows_by_id(
    session: AsyncSession,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[uuid.UUID],
    ids: Iterable[uuid.UUID],
) -> dict[uuid.UUID, Any]:
    """The rows ``stmt`` selects whose ``id_column`` is one of ``ids``, by id (no statement for
    no ids): what a loader's batch of lookups reads."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {row.id: row for row in await session.scalars(stmt.where(id_column.in_(wanted)))}


def page_rows(rows: list[RowT], page: Page) -> PageRows[RowT]:
    """The page out of ``rows`` read with one extra row (which only tells whether more follow)."""
    return PageRows(rows=rows[: page.first], has_next=len(rows) > page.first)


async def one_page(session: AsyncSession, stmt: Select[Any], ordering: Ordering, page: Page) -> PageRows[Any]:
    """One page of the rows ``stmt`` selects, in ``ordering``."""
    if page.after is not None:
        stmt = stmt.where(ordering.after(page.after))
    stmt = stmt.order_by(*ordering.order_by()).limit(page.first + 1)
    return page_rows(list(await session.scalars(stmt)), page)


async def top_n_per_anchor(
    session: AsyncSession,
    model: Any,
    inner: Select[Any],
    anchor: InstrumentedAttribute[Any],
    ordering: Ordering,
    page: Page,
    *,
    as_rows: bool = False,
) -> dict[uuid.UUID, list[Any]]:
    """Rows of ``inner`` grouped by ``anchor``: the first ``page.first + 1`` per anchor (the
    extra row only tells whether a next page exists). ``as_rows``: rows of the model's table
    columns (read by attribute like the ORM object, but without building one per row: the
    leaf lists of a page, which nothing changes), else ORM objects."""
    if page.after is not None:
        inner = inner.where(ordering.after(page.after))
    rank = func.row_number().over(partition_by=anchor, order_by=ordering.order_by())
    # The ranking subquery selects only ids: a subquery of every column of the model (read
    # through an alias) cost SQLAlchemy a proxy object per column at each call, about half of
    # building the statement; the rows are joined back by primary key.
    ranked = inner.with_only_columns(
        model.id, anchor.label("anchor_id"), rank.label("rank_in_anchor"), maintain_column_froms=True
    ).subquery()
    stmt = (
        select(model.__table__ if as_rows else model, ranked.c.anchor_id)
        .join(ranked, model.id == ranked.c.id)
        .where(ranked.c.rank_in_anchor <= page.first + 1)
        .order_by(ranked.c.anchor_id, ranked.c.rank_in_anchor)
    )
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    if as_rows:
        for row in await session.execute(stmt):
            grouped[row.anchor_id].append(row)
        return grouped
    for entity, anchor_id in await session.execute(stmt):
        grouped[anchor_id].append(entity)
    return grouped


def pages_per_anchor(
    grouped: dict[uuid.UUID, list[RowT]], anchors: Iterable[uuid.UUID], page: Page
) -> dict[uuid.UUID, PageRows[RowT]]:
    """A page for every anchor (an empty one for anchors without rows)."""
    return {anchor: page_rows(grouped.get(anchor, []), page) for anchor in anchors}


async def pages_of_anchors(
    session: AsyncSession,
    model: Any,
    inner: Select[Any],
    anchor: InstrumentedAttribute[Any],
    anchors: Sequence[uuid.UUID],
    ordering: Ordering,
    page: Page,
    *,
    as_rows: bool = False,
) -> dict[uuid.UUID, PageRows[Any]]:
    """A page of ``inner``'s rows for each of ``anchors`` (one statement; ``as_rows``: see
    ``top_n_per_anchor``)."""
    grouped = await top_n_per_anchor(session, model, inner, anchor, ordering, page, as_rows=as_rows)
    return pages_per_anchor(grouped, anchors, page)


# --- cursors ---------------------------------------------------------------------------------


def encode_cursor(tag: str, values: Any) -> str:
    """The opaque cursor holding ``values`` (JSON) for the issuer ``tag``."""
    raw = json.dumps({"o": tag, "v": values}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(tag: str, cursor: str) -> Any:
    """The values inside ``cursor``; ValueError unless the issuer ``tag`` made it."""
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor") from exc
    if not isinstance(data, dict) or data.get("o") != tag or "v" not in data:
        raise ValueError("a cursor of another connection or ordering")
    return data["v"]

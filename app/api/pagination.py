"""Relay connections over keyset pages (``app.core.pagination``): the cursor of a row holds
its ordering values, tagged with the ordering's name, so a cursor from one ordering is
refused by another instead of silently skipping rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import strawberry

from app.api.errors import InvalidCursorError, PageSizeError
from app.core.pagination import Ordering, Page, PageRows
from app.core.pagination import decode_cursor as decode_values
from app.core.pagination import encode_cursor as encode_values

if TYPE_CHECKING:
    from app.api.context import Info

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")

# Rows a connection returns when the client gives no ``first``: small enough that a nested
# connection with defaults stays far below the complexity limit.
DEFAULT_PAGE_SIZE = 20


@strawberry.type(name="PageInfo", description="Where a page sits in its connection.")
class PageInfoType:
    """Relay PageInfo (forward pagination)."""

    has_next_page: bool = strawberry.field(
        description="Whether rows follow this page (ask with `after: endCursor`)."
    )
    has_previous_page: bool = strawberry.field(
        description="Always false: connections page forwards only (Relay allows this)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first row of this page.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last row; pass it as `after` for the next page."
    )


@strawberry.type(description="One row of a connection and its cursor.")
class Edge(Generic[NodeT]):
    """Relay edge."""

    cursor: str = strawberry.field(
        description="Opaque position of this row; pass it as `after` to continue after it."
    )
    node: NodeT = strawberry.field(description="The row.")


@strawberry.type(description="A page of a list, in the Relay connection shape.")
class Connection(Generic[NodeT]):
    """Relay connection."""

    edges: list[Edge[NodeT]] = strawberry.field(description="The rows of this page, in order.")
    page_info: PageInfoType = strawberry.field(description="Pagination state of this page.")


def encode_cursor(ordering: Ordering, values: tuple[Any, ...]) -> str:
    """The cursor after a row with these ordering values."""
    return encode_values(ordering.name, ordering.dump(values))


def decode_cursor(ordering: Ordering, cursor: str, *, field: Sequence[str]) -> tuple[Any, ...]:
    """Ordering values inside ``cursor``; InvalidCursorError unless this ordering issued it."""
    try:
        values = decode_values(ordering.name, cursor)
        if not isinstance(values, list):
            raise ValueError("cursor values are not a list")
        return ordering.load(values)
    except ValueError as exc:
        raise InvalidCursorError(
            "the cursor was not issued by this connection with this ordering", field=list(field)
        ) from exc


def check_page_size(info: Info, first: int, *, field: Sequence[str]) -> None:
    """PAGE_SIZE_EXCEEDED unless ``first`` is between 0 and the page-size cap (``field``: the
    argument's path)."""
    cap = info.context.settings.max_page_size
    if first < 0 or first > cap:
        raise PageSizeError(f"`first` must be between 0 and {cap}, got {first}", field=list(field))


def page_of(info: Info, ordering: Ordering, first: int, after: str | None, *, field: Sequence[str]) -> Page:
    """The page request for a connection's ``first``/``after`` arguments (``field``: the
    connection's path, for errors), checked against the page-size cap."""
    check_page_size(info, first, field=[*field, "first"])
    values = decode_cursor(ordering, after, field=[*field, "after"]) if after is not None else None
    return Page(first=first, after=values)


def connection(
    page: PageRows[RowT],
    ordering: Ordering,
    to_node: Callable[[RowT], NodeT],
    *,
    order_row: Callable[[RowT], Any] | None = None,
) -> Connection[NodeT]:
    """A connection over one page of rows (``order_row`` picks the ORM row carrying the
    ordering values when rows are wrappers)."""
    edges = [
        Edge(
            cursor=encode_cursor(ordering, ordering.values_of(order_row(row) if order_row else row)),
            node=to_node(row),
        )
        for row in page.rows
    ]
    return Connection(
        edges=edges,
        page_info=PageInfoType(
            has_next_page=page.has_next,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )

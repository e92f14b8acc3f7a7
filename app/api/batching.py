"""DataLoader building blocks: every batch runs in ONE read session of its own.

A loader collects the keys requested in one tick of the event loop and answers them with one
repository call, so a relation costs one statement per distinct page request however many
parents ask for it. Sessions are per batch (not per request) so concurrent batches never
share a connection and a long subscription never pins one.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from app.core.pagination import Page, PageRows

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

RowT = TypeVar("RowT")
FilterT = TypeVar("FilterT", bound=Hashable)

SessionFactory = async_sessionmaker[AsyncSession]
ByIdFetch = Callable[..., Awaitable[dict[uuid.UUID, Any]]]


@dataclass(frozen=True, slots=True)
class PagedKey(Generic[FilterT]):
    """One parent's page request: which parent, which page, which filter."""

    anchor: uuid.UUID
    page: Page
    where: FilterT


def by_id_loader(
    factory: SessionFactory, tenant_id: uuid.UUID, fetch: ByIdFetch
) -> DataLoader[uuid.UUID, Any]:
    """A loader of rows by id (None for ids the tenant cannot see)."""

    async def load(keys: list[uuid.UUID]) -> list[Any]:
        async with factory() as session:
            found = await fetch(session, tenant_id=tenant_id, ids=keys)
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=load)


PagedFetch = Callable[
    [AsyncSession, uuid.UUID, Sequence[uuid.UUID], Page, FilterT], Awaitable[dict[uuid.UUID, PageRows[RowT]]]
]


def paged_loader(
    factory: SessionFactory, tenant_id: uuid.UUID, fetch: PagedFetch[FilterT, RowT]
) -> DataLoader[PagedKey[FilterT], PageRows[RowT]]:
    """A loader of one page of children per parent; keys with the same page and filter are
    fetched together (the common case: one statement for all parents)."""

    async def load(keys: list[PagedKey[FilterT]]) -> list[PageRows[RowT]]:
        groups: dict[tuple[Page, FilterT], list[uuid.UUID]] = defaultdict(list)
        for key in keys:
            anchors = groups[(key.page, key.where)]
            if key.anchor not in anchors:
                anchors.append(key.anchor)
        results: dict[PagedKey[FilterT], PageRows[RowT]] = {}
        async with factory() as session:
            for (page, where), anchors in groups.items():
                pages = await fetch(session, tenant_id, anchors, page, where)
                for anchor in anchors:
                    results[PagedKey(anchor, page, where)] = pages[anchor]
        return [results[key] for key in keys]

    return DataLoader(load_fn=load)


def clear_loaders(group: DataclassInstance) -> None:
    """Forget the cached rows of every DataLoader field of ``group`` (a dataclass of loaders):
    long-lived subscription contexts re-read state per event, and a loader added to a group
    is cleared without being listed again."""
    for item in dataclasses.fields(group):
        loader = getattr(group, item.name)
        if isinstance(loader, DataLoader):
            loader.clear_all()

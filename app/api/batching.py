"""DataLoader building blocks: every batch reads through ``ReadSessions``.

A loader collects the keys requested in one tick of the event loop and answers them with one
repository call, so a relation costs one statement per distinct page request however many
parents ask for it. The batches of one HTTP query share ONE read session (one pooled
connection, one read transaction: every level of the answer reads the same snapshot); on
SQLite a session of its own per batch cost a connection checkout, a ``BEGIN`` and a rollback
each, i.e. most of the read path. Everywhere else (subscriptions, mutations, WebSockets)
each batch opens its own session, so a long subscription never pins a connection and a
mutation's payload sees what the mutation wrote.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.core.pagination import Page, PageRows

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

RowT = TypeVar("RowT")
FilterT = TypeVar("FilterT", bound=Hashable)

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""What a loader opens its read session with: ``async with factory() as session``."""
ByIdFetch = Callable[..., Awaitable[dict[uuid.UUID, Any]]]


@dataclass(frozen=True, slots=True)
class PagedKey(Generic[FilterT]):
    """One parent's page request: which parent, which page, which filter."""

    anchor: uuid.UUID
    page: Page
    where: FilterT


class ReadSessions:
    """The read sessions of one request's loaders: ``async with reads() as session``.

    Between ``share()`` and the matching ``release()`` (one query operation of an HTTP
    request: ``SharedReads``) every batch uses one session, opened by the first and
    closed by the last release; batches take turns on it (a session is not safe for concurrent
    use). Otherwise, and always when not ``shareable``, each batch opens its own.
    """

    def __init__(self, factory: async_sessionmaker[AsyncSession], *, shareable: bool = False) -> None:
        self._factory = factory
        self._shareable = shareable
        self._sharing = 0
        self._shared: AsyncSession | None = None
        self._turn = asyncio.Lock()

    @property
    def factory(self) -> async_sessionmaker[AsyncSession]:
        """The session factory underneath."""
        return self._factory

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._session()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        if self._sharing:
            async with self._turn:
                # Checked again with the turn held: the last release may have come meanwhile.
                if self._sharing:
                    if self._shared is None:
                        self._shared = self._factory()
                    yield self._shared
                    return
        async with self._factory() as session:
            yield session

    def share(self) -> None:
        """Batches from now until the matching ``release`` share one session (if shareable)."""
        if self._shareable:
            self._sharing += 1

    async def release(self) -> None:
        """End a ``share``; the last one closes the shared session (its connection goes back
        to the pool)."""
        if not self._shareable or not self._sharing:
            return
        self._sharing -= 1
        if self._sharing == 0:
            async with self._turn:
                shared, self._shared = self._shared, None
                if shared is not None:
                    await shared.close()


class SharedReads(SchemaExtension):
    """A query operation's loaders share one read session (``ReadSessions``) while it runs.

    Queries only: a mutation's payload must see what each of its mutation fields wrote, and a
    subscription would pin the connection for its lifetime."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        reads = getattr(getattr(execution.context, "loaders", None), "reads", None)
        if not isinstance(reads, ReadSessions) or execution.operation_type is not OperationType.QUERY:
            yield
            return
        reads.share()
        try:
            yield
        finally:
            await reads.release()


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

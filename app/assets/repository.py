"""SQL for assets.

Every read starts from ``_assets``: the caller's tenant, deleted assets hidden unless a
function asks for them by name (``deleted=``). Rows that hang off an asset (scenes, segments,
detections, vectors, similarity edges) inherit its soft delete through ``is_live``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import type_coerce

from app.assets.duplicate_repository import is_marked_duplicate
from app.assets.models import Asset, IngestKey
from app.core.enums import AssetKind, AssetStatus
from app.core.pagination import Ordering, Page, PageRows, ValueKind, one_page, rows_by_id
from app.people.models import FaceTrack, Person


def _assets(tenant_id: uuid.UUID, *, deleted: bool | None = False) -> Select[Asset]:
    """The base of every asset read: the tenant's assets; live ones only by default, deleted
    ones only with ``deleted=True``, both with ``deleted=None``."""
    stmt = select(Asset).where(Asset.tenant_id == tenant_id)
    if deleted is False:
        return stmt.where(Asset.deleted_at.is_(None))
    if deleted is True:
        return stmt.where(Asset.deleted_at.is_not(None))
    return stmt


def is_live(asset_id: Any, kinds: Iterable[AssetKind] = ()) -> ColumnElement[bool]:
    """Whether the asset ``asset_id`` (a column of a row hanging off it) is not deleted (and is
    of one of ``kinds``, when given)."""
    conditions = [Asset.id == asset_id, Asset.deleted_at.is_(None)]
    wanted = tuple(kinds)
    if wanted:
        conditions.append(Asset.kind.in_(wanted))
    return exists().where(*conditions)


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching values that contain ``text``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def get_by_sha(session: AsyncSession, *, tenant_id: uuid.UUID, sha256: str) -> Asset | None:
    """The tenant's asset with this content, deleted or not."""
    return await session.scalar(_assets(tenant_id, deleted=None).where(Asset.content_sha256 == sha256))


async def get(session: AsyncSession, *, tenant_id: uuid.UUID, asset_id: uuid.UUID) -> Asset | None:
    """The tenant's live (not deleted) asset with this id."""
    return await session.scalar(_assets(tenant_id).where(Asset.id == asset_id))


async def content_mime_type(session: AsyncSession, *, tenant_id: uuid.UUID, key: str) -> str | None:
    """The MIME type of the tenant's live asset whose content is stored under ``key`` (None: no
    such asset, so the blob is not the caller's to read as content)."""
    stmt = _assets(tenant_id).where(Asset.blob_key == key).with_only_columns(Asset.mime_type).limit(1)
    return await session.scalar(stmt)


async def assets_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Asset]:
    """Live assets of the tenant, by id."""
    return await rows_by_id(session, _assets(tenant_id), Asset.id, ids)


async def shown_asset_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``ids`` are the tenant's live assets not marked duplicates (one statement)."""
    wanted = list(set(ids))
    if not wanted:
        return set()
    stmt = (
        _assets(tenant_id)
        .with_only_columns(Asset.id)
        .where(Asset.id.in_(wanted), ~is_marked_duplicate(Asset.id))
    )
    return set(await session.scalars(stmt))


async def get_ingest_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, key: str, lock: bool = False
) -> IngestKey | None:
    """The tenant's record of an ingest idempotency key; ``lock`` holds its row (PostgreSQL)
    until the transaction ends, so concurrent calls with the key take turns."""
    query = select(IngestKey).where(IngestKey.tenant_id == tenant_id, IngestKey.key == key)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def recently_deleted_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, since: datetime, limit: int
) -> list[uuid.UUID]:
    """Ids of the tenant's assets deleted at or after ``since``, newest deletion first (at most
    ``limit``): one indexed statement."""
    rows = await session.scalars(
        _assets(tenant_id, deleted=True)
        .with_only_columns(Asset.id)
        .where(Asset.deleted_at >= since)
        .order_by(Asset.deleted_at.desc())
        .limit(limit)
    )
    return list(rows)


async def referenced_blob_keys(session: AsyncSession, *, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` an asset of any tenant, deleted or not, stores its content under (the
    blob sweep's question: a deleted asset keeps its blob for a re-ingest to restore it)."""
    rows = await session.scalars(select(Asset.blob_key).where(Asset.blob_key.in_(keys)))
    return set(rows)


# --- the assets connection -------------------------------------------------------------------


def asset_ordering(field: str, descending: bool) -> Ordering:
    """The asset ordering by ``field`` (created_at, updated_at or title)."""
    column: InstrumentedAttribute[Any]
    kind: ValueKind
    if field == "created_at":
        column, kind = Asset.created_at, ValueKind.DATETIME
    elif field == "updated_at":
        column, kind = Asset.updated_at, ValueKind.DATETIME
    elif field == "title":
        column, kind = Asset.title, ValueKind.STR
    else:
        raise ValueError(f"unknown asset ordering {field!r}")
    return Ordering(
        f"asset.{field}.{'desc' if descending else 'asc'}",
        ((column, kind), (Asset.id, ValueKind.UUID)),
        descending,
    )


@dataclass(frozen=True, slots=True)
class AssetFilter:
    """Which assets. Every given criterion must hold."""

    kinds: tuple[AssetKind, ...] = ()
    statuses: tuple[AssetStatus, ...] = ()
    tag: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    title: str | None = None
    # A person shown in the asset (a merged-away id stands for the person it went into).
    person_id: uuid.UUID | None = None
    language: str | None = None
    # Assets an editor marked as duplicates of another are hidden unless asked for.
    include_duplicates: bool = False


def _has_tag(dialect: str, tag: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # JSONB containment uses the GIN-indexable @> operator.
        return type_coerce(Asset.tags, JSONB).contains([tag])
    if dialect == "sqlite":
        element = func.json_each(Asset.tags).table_valued("value")
        return exists(select(literal_column("1")).select_from(element).where(element.c.value == tag))
    raise NotImplementedError(f"tag filter on {dialect}")


def _shows_person(tenant_id: uuid.UUID, person_id: uuid.UUID) -> ColumnElement[bool]:
    """Whether the asset has a face track of the tenant's person ``person_id``, or of the person
    it was merged into (merges re-point older merges, so one hop suffices)."""
    person = (
        select(func.coalesce(Person.merged_into_id, Person.id))
        .where(Person.tenant_id == tenant_id, Person.id == person_id)
        .scalar_subquery()
    )
    return exists().where(
        FaceTrack.asset_id == Asset.id, FaceTrack.tenant_id == tenant_id, FaceTrack.person_id == person
    )


async def list_assets(
    session: AsyncSession, *, tenant_id: uuid.UUID, where: AssetFilter, ordering: Ordering, page: Page
) -> PageRows[Asset]:
    """One page of the tenant's live assets."""
    stmt = _assets(tenant_id)
    if where.kinds:
        stmt = stmt.where(Asset.kind.in_(where.kinds))
    if where.statuses:
        stmt = stmt.where(Asset.status.in_(where.statuses))
    if where.tag is not None:
        stmt = stmt.where(_has_tag(session.get_bind().dialect.name, where.tag))
    if where.created_from is not None:
        stmt = stmt.where(Asset.created_at >= where.created_from)
    if where.created_to is not None:
        stmt = stmt.where(Asset.created_at < where.created_to)
    if where.min_duration_s is not None:
        stmt = stmt.where(Asset.duration_s >= where.min_duration_s)
    if where.max_duration_s is not None:
        stmt = stmt.where(Asset.duration_s <= where.max_duration_s)
    if where.title:
        stmt = stmt.where(Asset.title.ilike(contains_pattern(where.title), escape="\\"))
    if where.person_id is not None:
        stmt = stmt.where(_shows_person(tenant_id, where.person_id))
    if where.language is not None:
        stmt = stmt.where(Asset.language == where.language)
    if not where.include_duplicates:
        stmt = stmt.where(~is_marked_duplicate(Asset.id))
    return await one_page(session, stmt, ordering, page)

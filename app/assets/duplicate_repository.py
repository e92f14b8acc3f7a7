"""SQL for editors' duplicate decisions (``DuplicateDecision``).

Every read starts from ``_decisions``: the caller's tenant. Two conditions are exported for the
other repositories' base statements: ``is_marked_duplicate`` (an asset an editor hid as a copy
of another) and ``declared_not_duplicate`` (a pair an editor said is not a copy), so a list,
a search filter, a cluster or a relation cannot forget either.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.models import DuplicateDecision
from app.core.enums import DuplicateVerdict

Pair = tuple[uuid.UUID, uuid.UUID]


def ordered(a: uuid.UUID, b: uuid.UUID) -> Pair:
    """The pair as stored: the smaller id first."""
    return (a, b) if a <= b else (b, a)


def _decisions(tenant_id: uuid.UUID) -> Select[DuplicateDecision]:
    """The base of every decision read: the tenant's."""
    return select(DuplicateDecision).where(DuplicateDecision.tenant_id == tenant_id)


def is_marked_duplicate(asset_id: Any) -> ColumnElement[bool]:
    """Whether the asset ``asset_id`` (a column) was marked a duplicate of another and is hidden."""
    # The decision's asset ids are the tenant's own (foreign keys to its assets), so matching
    # the id is matching within the tenant.
    return exists().where(
        DuplicateDecision.duplicate_asset_id == asset_id,
        DuplicateDecision.verdict == DuplicateVerdict.DUPLICATE,
    )


def declared_not_duplicate(a: Any, b: Any) -> ColumnElement[bool]:
    """Whether an editor declared the assets ``a`` and ``b`` (columns) not to be duplicates."""
    return exists().where(
        DuplicateDecision.verdict == DuplicateVerdict.NOT_DUPLICATE,
        or_(
            and_(DuplicateDecision.low_asset_id == a, DuplicateDecision.high_asset_id == b),
            and_(DuplicateDecision.low_asset_id == b, DuplicateDecision.high_asset_id == a),
        ),
    )


async def decisions_of_pairs(
    session: AsyncSession, *, tenant_id: uuid.UUID, pairs: Iterable[Pair]
) -> dict[Pair, DuplicateDecision]:
    """The tenant's decisions about these pairs (any order inside a pair), by stored pair."""
    wanted = {ordered(a, b) for a, b in pairs}
    if not wanted:
        return {}
    lows = {low for low, _ in wanted}
    stmt = _decisions(tenant_id).where(DuplicateDecision.low_asset_id.in_(lows))
    found: dict[Pair, DuplicateDecision] = {}
    for row in await session.scalars(stmt):
        pair = (row.low_asset_id, row.high_asset_id)
        if pair in wanted:
            found[pair] = row
    return found


async def hidden_duplicate_ids(session: AsyncSession, *, tenant_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
    """Ids of the tenant's assets marked duplicates (at most ``limit``, most recent decision first)."""
    latest = func.max(DuplicateDecision.updated_at)
    stmt = (
        _decisions(tenant_id)
        .with_only_columns(DuplicateDecision.duplicate_asset_id)
        .where(
            DuplicateDecision.verdict == DuplicateVerdict.DUPLICATE,
            DuplicateDecision.duplicate_asset_id.is_not(None),
        )
        .group_by(DuplicateDecision.duplicate_asset_id)
        .order_by(latest.desc(), DuplicateDecision.duplicate_asset_id)
        .limit(limit)
    )
    return [asset_id for asset_id in await session.scalars(stmt) if asset_id is not None]


def add_decisions(session: AsyncSession, rows: Sequence[DuplicateDecision]) -> None:
    """Stage new decision rows in the session (flushed by the caller's transaction)."""
    session.add_all(rows)

"""The statements the job system writes an asset's own columns with: what its stages learned
of the file (probe facts, spoken language) and the status its job gives it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.models import Asset
from app.core.enums import AssetStatus


async def set_media_facts(
    session: AsyncSession,
    *,
    asset_id: uuid.UUID,
    duration_s: float | None,
    width: int | None,
    height: int | None,
    frame_rate: float | None,
    audio_channels: int | None,
    media_info: dict[str, Any],
) -> None:
    """Replace the asset's probed columns (every one, None included: a re-probe leaves no stale value)."""
    await session.execute(
        update(Asset)
        .where(Asset.id == asset_id)
        .values(
            duration_s=duration_s,
            width=width,
            height=height,
            frame_rate=frame_rate,
            audio_channels=audio_channels,
            media_info=media_info,
        )
        .execution_options(synchronize_session=False)
    )


async def set_language(
    session: AsyncSession, *, asset_id: uuid.UUID, language: str, unless_set: bool = False
) -> None:
    """Record the main language of the asset's speech or text; with ``unless_set``, only when
    none is recorded yet (on-screen text yields to speech, whichever stage ran first)."""
    stmt = update(Asset).where(Asset.id == asset_id)
    if unless_set:
        stmt = stmt.where(Asset.language.is_(None))
    await session.execute(stmt.values(language=language).execution_options(synchronize_session=False))


async def set_status(session: AsyncSession, *, asset_id: uuid.UUID, status: AssetStatus) -> None:
    """Set the asset's status as its job sees it (a deleted asset keeps DELETED)."""
    await session.execute(
        update(Asset)
        .where(Asset.id == asset_id, Asset.status != AssetStatus.DELETED)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )


async def get_for_job(session: AsyncSession, *, asset_id: uuid.UUID) -> Asset | None:
    """The asset a job runs over, soft-deleted or not (None once its row is gone)."""
    return await session.get(Asset, asset_id)

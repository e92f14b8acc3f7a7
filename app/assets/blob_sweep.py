"""The blob sweep: removes what the blob store holds but nothing needs.

- Staged content older than ``blob_staging_max_age_minutes``: an upload whose process died
  between staging and commit or discard (a live upload is committed or discarded within its
  request).
- Blobs no row references (no asset's content, no scene's keyframe or thumbnail, of any
  tenant, deleted assets included) once older than ``blob_orphan_grace_minutes``: a
  transaction that failed after its blob was committed, or a stage that stored keyframes and
  then failed. The grace period protects the blobs whose rows are not committed yet: an
  ingest commits its blob just before inserting its row, and a stage stores its keyframes
  before its transaction; committing a blob that already exists refreshes its modification
  time, and each candidate's time is checked again right before it is deleted.

Several processes may sweep at once: deleting is idempotent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets import repository as assets_repository
from app.core.blobs import BLOB_PREFIX, STAGING_PREFIX, BlobInfo, BlobStore
from app.core.db import utcnow
from app.core.settings import Settings
from app.media import repository as media_repository

log = logging.getLogger(__name__)

# Keys checked against the database per statement (well under any IN-list limit).
_BATCH = 500


@dataclass(slots=True)
class BlobSweepReport:
    """What one sweep removed."""

    staged_deleted: int = 0
    orphans_deleted: int = 0
    bytes_freed: int = 0


async def sweep_blobs(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    blobs: BlobStore,
    staging_max_age: timedelta,
    orphan_grace: timedelta,
    now: datetime | None = None,
) -> BlobSweepReport:
    """One pass over the staging area and the stored blobs."""
    now = now or utcnow()
    report = BlobSweepReport()
    staged = blobs.list(STAGING_PREFIX)
    while batch := await asyncio.to_thread(_next_batch, staged):
        for info in batch:
            if info.modified < now - staging_max_age:
                await asyncio.to_thread(blobs.delete, info.key)
                report.staged_deleted += 1
                report.bytes_freed += info.size
    stored = blobs.list(BLOB_PREFIX)
    cutoff = now - orphan_grace
    while batch := await asyncio.to_thread(_next_batch, stored):
        old = [info for info in batch if info.modified < cutoff]
        if not old:
            continue
        keys = [info.key for info in old]
        async with session_factory() as session:
            referenced = await assets_repository.referenced_blob_keys(session, keys=keys)
            referenced |= await media_repository.referenced_blob_keys(session, keys=keys)
        for info in old:
            if info.key in referenced:
                continue
            # Committed again since it was listed (a row about to reference it): kept.
            current = await asyncio.to_thread(blobs.info, info.key)
            if current is None or current.modified >= cutoff:
                continue
            await asyncio.to_thread(blobs.delete, info.key)
            report.orphans_deleted += 1
            report.bytes_freed += info.size
    if report.staged_deleted or report.orphans_deleted:
        log.info(
            "blob sweep: %d staged and %d orphaned blobs deleted, %d bytes freed",
            report.staged_deleted,
            report.orphans_deleted,
            report.bytes_freed,
        )
    return report


def _next_batch(infos: Iterator[BlobInfo]) -> list[BlobInfo]:
    return list(itertools.islice(infos, _BATCH))


async def run_blob_sweeper(
    session_factory: async_sessionmaker[AsyncSession],
    blobs: BlobStore,
    settings: Settings,
    stop: asyncio.Event,
) -> None:
    """Sweep every ``blob_sweep_interval_seconds`` (with jitter) until ``stop`` is set."""
    interval = settings.blob_sweep_interval_seconds
    while not stop.is_set():
        try:
            await sweep_blobs(
                session_factory=session_factory,
                blobs=blobs,
                staging_max_age=timedelta(minutes=settings.blob_staging_max_age_minutes),
                orphan_grace=timedelta(minutes=settings.blob_orphan_grace_minutes),
            )
        except Exception:
            log.exception("blob sweep failed; retrying at the next interval")
        # Jitter keeps the sweeps of many processes from listing the store in lockstep.
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval * random.uniform(0.8, 1.2))
        except TimeoutError:
            pass

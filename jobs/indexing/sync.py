"""Writing the database's view of assets to search: every open generation gets each live
asset's document (rendered by ``search/render.py``), a deleted asset is removed from every
generation, and a reconciler re-applies deletions so a lost sync message cannot leave one
searchable."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import session_scope
from app.search_index import repository
from jobs.indexing.generations import open_generations
from search.backend import GenerationError, GenerationInfo, SearchBackend, WriteReport
from search.render import AssetSnapshot, render_document

log = logging.getLogger(__name__)

# Assets loaded per statement batch (reindex, reconcile).
BATCH = 100
# A deletion committed this long before a reconcile pass started is still looked at by the next
# pass: transactions run for well under a minute, so none can commit unseen between passes.
_RECONCILE_MARGIN = timedelta(minutes=5)


async def write_snapshots(
    backend: SearchBackend,
    snapshots: Sequence[AssetSnapshot],
    *,
    generations: Sequence[GenerationInfo] | None = None,
) -> WriteReport:
    """Index live assets into each open generation (or the given ones) with that generation's
    vectors, and remove deleted ones from every generation."""
    report = WriteReport()
    targets = list(generations) if generations is not None else await open_generations(backend)
    live = [s for s in snapshots if not s.deleted]
    for snapshot in snapshots:
        if snapshot.deleted:
            report = report.merge(
                await backend.delete_asset(
                    tenant_id=str(snapshot.asset.tenant_id),
                    asset_id=str(snapshot.asset.id),
                    version=snapshot.version,
                )
            )
    if not live:
        return report
    for generation in targets:
        documents = [render_document(snapshot, generation.spec) for snapshot in live]
        try:
            report = report.merge(await backend.upsert(documents, generation=generation.name))
        except GenerationError:
            # Dropped between listing and writing: nothing to keep up to date there.
            log.info("search generation %s disappeared before the write; skipped", generation.name)
    return report


async def sync_assets(
    session_factory: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    asset_ids: Sequence[uuid.UUID],
    *,
    generations: Sequence[GenerationInfo] | None = None,
) -> WriteReport:
    """Bring the index in line with the database for these assets (index, or remove if deleted)."""
    async with session_scope(session_factory) as session:
        snapshots = await repository.load_snapshots(session, asset_ids)
    return await write_snapshots(backend, snapshots, generations=generations)


async def reconcile_deleted(
    session_factory: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    *,
    since: datetime | None = None,
    batch: int = BATCH,
) -> int:
    """Remove from search every asset deleted at or after ``since`` (all when None); how many.

    Deletes are idempotent (a tombstone of the same version changes nothing), so running this
    after the sync message already did the work costs a lookup per asset, no harm.
    """
    done = 0
    after: uuid.UUID | None = None
    while True:
        async with session_scope(session_factory) as session:
            rows = await repository.deleted_assets(session, since=since, after=after, limit=batch)
            versions = await repository.deletion_versions(session, [asset_id for asset_id, _ in rows])
        if not rows:
            return done
        for asset_id, tenant_id in rows:
            await backend.delete_asset(
                tenant_id=str(tenant_id), asset_id=str(asset_id), version=versions[asset_id]
            )
        done += len(rows)
        after = rows[-1][0]


async def run_reconciler(
    session_factory: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    stop: asyncio.Event,
    *,
    interval_s: float,
) -> None:
    """Re-apply deletions every ``interval_s`` until ``stop`` is set: the safety net under the
    ``search.sync_asset`` message, so a lost message cannot leave a deleted asset searchable.

    The first pass covers every deleted asset (messages lost before this process started); the
    later ones the deletions since the previous pass, with a margin for transactions that
    committed late.
    """
    since: datetime | None = None
    while not stop.is_set():
        started = datetime.now(UTC)
        try:
            count = await reconcile_deleted(session_factory, backend, since=since)
            if count and since is None:
                log.info("search reconcile: %d deleted assets checked", count)
            since = started - _RECONCILE_MARGIN
        except Exception:
            log.exception("search reconcile failed; retrying at the next interval")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except TimeoutError:
            pass

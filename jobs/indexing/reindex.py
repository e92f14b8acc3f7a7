"""Rebuilding the index into a new generation from the database (``mediakg search reindex``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import session_scope
from app.search_index import repository
from jobs.indexing.generations import ModelRouter, generation_spec
from jobs.indexing.reembed import EmbedReport, embed_missing
from jobs.indexing.sync import BATCH, reconcile_deleted, write_snapshots
from search.backend import GenerationError, SearchBackend, WriteReport
from search.documents import VectorField


@dataclass(slots=True)
class ReindexReport:
    """What one ``reindex`` run did."""

    generation: str
    assets: int = 0
    deleted: int = 0
    embedded: EmbedReport = field(default_factory=EmbedReport)
    write: WriteReport = field(default_factory=WriteReport)
    activated: bool = False
    dropped: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def count_assets(session_factory: async_sessionmaker[AsyncSession]) -> int:
    """Live assets of every tenant (the work of a full rebuild)."""
    async with session_scope(session_factory) as session:
        return await repository.count_live_assets(session)


async def reindex(
    session_factory: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    router: ModelRouter,
    *,
    name: str,
    switch: bool = True,
    drop_old: bool = False,
    batch: int = BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> ReindexReport:
    """Build generation ``name`` for the router's current models from the database, then
    (``switch``) make it live in one step and (``drop_old``) drop every other generation.

    Searches keep using the live generation until the switch; the index stage meanwhile writes
    to the new one too (it is open), so nothing indexed during the rebuild is missed.
    """
    if drop_old and not switch:
        raise GenerationError("--drop-old needs the switch: the live generation cannot be dropped")
    started = time.monotonic()
    spec = generation_spec(router, name)
    spec.validate()
    previous = [g.name for g in await backend.list_generations()]
    info = await backend.create_generation(spec)
    report = ReindexReport(generation=info.name)
    text_model = spec.vectors[VectorField.TEXT].model_version
    after: uuid.UUID | None = None
    while True:
        async with session_scope(session_factory) as session:
            ids = await repository.live_asset_ids(session, after=after, limit=batch)
            snapshots = await repository.load_snapshots(session, ids)
        if not ids:
            break
        embedded = await embed_missing(session_factory, router, snapshots, model=text_model)
        if embedded.total:
            # Re-read: the new rows belong in the documents and raise their versions above any
            # write the index stage made to the new generation from the older rows.
            async with session_scope(session_factory) as session:
                snapshots = await repository.load_snapshots(session, ids)
            report.embedded.segments += embedded.segments
            report.embedded.scenes += embedded.scenes
            report.embedded.assets += embedded.assets
        report.write = report.write.merge(await write_snapshots(backend, snapshots, generations=[info]))
        report.assets += sum(1 for s in snapshots if not s.deleted)
        after = ids[-1]
        if on_progress is not None:
            on_progress(len(ids))
    # A delete whose sync message was lost must not survive into the new generation (nor the
    # old one): deletes are idempotent, so all of them are applied again.
    report.deleted = await reconcile_deleted(session_factory, backend)
    await backend.refresh()
    if switch:
        await backend.activate_generation(info.name)
        report.activated = True
    if drop_old:
        for old in previous:
            await backend.drop_generation(old)
            report.dropped.append(old)
    report.seconds = time.monotonic() - started
    return report

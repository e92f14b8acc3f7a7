"""The statements that keep search in line with the database: asset snapshots (every row a
search document is rendered from), the versions of deletions, pages of live and deleted
assets, and the text vectors a reindex adds for a new model."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.models import Asset
from app.media.models import Detection, Embedding, Scene, TranscriptSegment
from app.people.models import FaceTrack, Person
from search.render import AssetSnapshot, micros, snapshot_of


async def load_snapshots(session: AsyncSession, asset_ids: Sequence[uuid.UUID]) -> list[AssetSnapshot]:
    """Snapshots of the given assets (deleted ones included; missing ids skipped), in id order.

    Six statements however many assets: one per table (persons with their face tracks).
    """
    if not asset_ids:
        return []
    ids = sorted(set(asset_ids))
    assets = list(await session.scalars(select(Asset).where(Asset.id.in_(ids)).order_by(Asset.id)))
    scenes: dict[uuid.UUID, list[Scene]] = defaultdict(list)
    for scene in await session.scalars(select(Scene).where(Scene.asset_id.in_(ids))):
        scenes[scene.asset_id].append(scene)
    segments: dict[uuid.UUID, list[TranscriptSegment]] = defaultdict(list)
    for segment in await session.scalars(
        select(TranscriptSegment).where(TranscriptSegment.asset_id.in_(ids))
    ):
        segments[segment.asset_id].append(segment)
    detections: dict[uuid.UUID, list[Detection]] = defaultdict(list)
    for detection in await session.scalars(select(Detection).where(Detection.asset_id.in_(ids))):
        detections[detection.asset_id].append(detection)
    embeddings: dict[uuid.UUID, list[Embedding]] = defaultdict(list)
    for embedding in await session.scalars(select(Embedding).where(Embedding.asset_id.in_(ids))):
        embeddings[embedding.asset_id].append(embedding)
    people: dict[uuid.UUID, list[Person]] = defaultdict(list)
    appearances: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]] = defaultdict(list)
    # The persons seen in each asset (merged-away ones have no tracks left); tenant-scoped by
    # the track's own tenant, so a person of another tenant can never be attached.
    seen = (
        select(FaceTrack.asset_id, FaceTrack.scene_id, Person)
        .join(Person, (Person.id == FaceTrack.person_id) & (Person.tenant_id == FaceTrack.tenant_id))
        .where(FaceTrack.asset_id.in_(ids), Person.merged_into_id.is_(None))
        .distinct()
    )
    for asset_id, scene_id, person in await session.execute(seen):
        people[asset_id].append(person)
        if scene_id is not None:
            appearances[asset_id].append((scene_id, person.id))
    return [
        snapshot_of(
            asset,
            scenes=scenes[asset.id],
            segments=segments[asset.id],
            detections=detections[asset.id],
            embeddings=embeddings[asset.id],
            people=people[asset.id],
            appearances=appearances[asset.id],
        )
        for asset in assets
    ]


async def deletion_versions(session: AsyncSession, asset_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """``AssetSnapshot.version`` of each deleted asset, computed in SQL (no vectors loaded)."""
    if not asset_ids:
        return {}
    ids = list(asset_ids)
    versions: dict[uuid.UUID, int] = {}
    for asset_id, updated, created, deleted in await session.execute(
        select(Asset.id, Asset.updated_at, Asset.created_at, Asset.deleted_at).where(Asset.id.in_(ids))
    ):
        versions[asset_id] = max(micros(m) for m in (updated, created, deleted) if m is not None)
    for table in (Scene, TranscriptSegment, Detection, Embedding):
        stmt = (
            select(table.asset_id, func.max(table.created_at))
            .where(table.asset_id.in_(ids))
            .group_by(table.asset_id)
        )
        for asset_id, newest in await session.execute(stmt):
            if newest is not None and asset_id in versions:
                # The UTC type decorator does not apply to an aggregate's result on SQLite.
                stamp = newest if newest.tzinfo is not None else newest.replace(tzinfo=UTC)
                versions[asset_id] = max(versions[asset_id], micros(stamp))
    return versions


async def live_asset_ids(session: AsyncSession, *, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
    """The next ``limit`` live assets of every tenant after ``after``, in id order."""
    stmt = select(Asset.id).where(Asset.deleted_at.is_(None))
    if after is not None:
        stmt = stmt.where(Asset.id > after)
    return list(await session.scalars(stmt.order_by(Asset.id).limit(limit)))


async def deleted_assets(
    session: AsyncSession, *, since: datetime | None, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(asset id, tenant id) of the next ``limit`` assets deleted at or after ``since`` (all
    when None) after ``after``, in id order."""
    stmt = select(Asset.id, Asset.tenant_id).where(Asset.deleted_at.is_not(None))
    if since is not None:
        stmt = stmt.where(Asset.deleted_at >= since)
    if after is not None:
        stmt = stmt.where(Asset.id > after)
    return [(row[0], row[1]) for row in await session.execute(stmt.order_by(Asset.id).limit(limit))]


async def count_live_assets(session: AsyncSession) -> int:
    """Live assets of every tenant."""
    return int(
        await session.scalar(select(func.count()).select_from(Asset).where(Asset.deleted_at.is_(None))) or 0
    )


async def add_embedding_unless_present(session: AsyncSession, embedding: Embedding) -> bool:
    """Insert ``embedding`` unless its owner has a vector of that model already (then the
    stored one stays, and False): the embed stage owns replacing its model's rows."""
    try:
        async with session.begin_nested():
            session.add(embedding)
            await session.flush()
    except IntegrityError:
        return False
    return True

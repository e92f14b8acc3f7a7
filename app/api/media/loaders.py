"""Loaders of the analysis graph: scenes, transcript segments, detections, similarity."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from app.api.batching import PagedKey, SessionFactory, by_id_loader, clear_loaders, paged_loader
from app.core.enums import OwnerType
from app.core.pagination import Page, PageRows
from app.media import relations
from app.media import repository as repo
from app.media.models import Detection, Scene, SimilarityEdge, TranscriptSegment
from app.media.relations import Relation
from app.media.repository import (
    DetectionFilter,
    DetectionRow,
    EdgeFilter,
    Neighbour,
    SegmentFilter,
    SegmentRow,
)
from app.people import repository as people_repository
from app.people.models import Person


async def _scenes_of_assets(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], page: Page, _where: None
) -> dict[uuid.UUID, PageRows[Scene]]:
    return await repo.scenes_of_assets(session, tenant_id=tenant_id, asset_ids=ids, page=page)


async def _segments_of_assets(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], page: Page, where: SegmentFilter
) -> dict[uuid.UUID, PageRows[SegmentRow]]:
    return await repo.segments_of_assets(session, tenant_id=tenant_id, asset_ids=ids, page=page, where=where)


async def _segments_of_scenes(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], page: Page, where: SegmentFilter
) -> dict[uuid.UUID, PageRows[SegmentRow]]:
    return await repo.segments_of_scenes(session, tenant_id=tenant_id, scene_ids=ids, page=page, where=where)


async def _detections_of_assets(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], page: Page, where: DetectionFilter
) -> dict[uuid.UUID, PageRows[DetectionRow]]:
    return await repo.detections_of_assets(
        session, tenant_id=tenant_id, asset_ids=ids, page=page, where=where
    )


async def _detections_of_scenes(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], page: Page, where: DetectionFilter
) -> dict[uuid.UUID, PageRows[DetectionRow]]:
    return await repo.detections_of_scenes(
        session, tenant_id=tenant_id, scene_ids=ids, page=page, where=where
    )


async def _similar_assets(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], page: Page, where: EdgeFilter
) -> dict[uuid.UUID, PageRows[Neighbour]]:
    return await repo.neighbours(
        session, tenant_id=tenant_id, owner_type=OwnerType.ASSET, owner_ids=ids, page=page, where=where
    )


async def _similar_scenes(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], page: Page, where: EdgeFilter
) -> dict[uuid.UUID, PageRows[Neighbour]]:
    return await repo.neighbours(
        session, tenant_id=tenant_id, owner_type=OwnerType.SCENE, owner_ids=ids, page=page, where=where
    )


@dataclass(slots=True)
class MediaLoaders:
    """Per-request loaders of the analysis graph."""

    factory: SessionFactory
    tenant_id: uuid.UUID
    scene_by_id: DataLoader[uuid.UUID, Scene | None] = field(init=False)
    transcript_segment_by_id: DataLoader[uuid.UUID, TranscriptSegment | None] = field(init=False)
    detection_by_id: DataLoader[uuid.UUID, Detection | None] = field(init=False)
    similarity_edge_by_id: DataLoader[uuid.UUID, SimilarityEdge | None] = field(init=False)
    scenes_by_asset: DataLoader[PagedKey[None], PageRows[Scene]] = field(init=False)
    transcript_segments_by_asset: DataLoader[PagedKey[SegmentFilter], PageRows[SegmentRow]] = field(
        init=False
    )
    transcript_segments_by_scene: DataLoader[PagedKey[SegmentFilter], PageRows[SegmentRow]] = field(
        init=False
    )
    detections_by_asset: DataLoader[PagedKey[DetectionFilter], PageRows[DetectionRow]] = field(init=False)
    detections_by_scene: DataLoader[PagedKey[DetectionFilter], PageRows[DetectionRow]] = field(init=False)
    similar_assets_by_asset: DataLoader[PagedKey[EdgeFilter], PageRows[Neighbour]] = field(init=False)
    similar_scenes_by_scene: DataLoader[PagedKey[EdgeFilter], PageRows[Neighbour]] = field(init=False)
    relations_by_asset: DataLoader[uuid.UUID, list[Relation]] = field(init=False)
    people_by_asset: DataLoader[uuid.UUID, list[Person]] = field(init=False)
    people_by_scene: DataLoader[uuid.UUID, list[Person]] = field(init=False)

    def __post_init__(self) -> None:
        f, t = self.factory, self.tenant_id
        self.scene_by_id = by_id_loader(f, t, repo.scenes_by_id)
        self.transcript_segment_by_id = by_id_loader(f, t, repo.segments_by_id)
        self.detection_by_id = by_id_loader(f, t, repo.detections_by_id)
        self.similarity_edge_by_id = by_id_loader(f, t, repo.edges_by_id)
        self.scenes_by_asset = paged_loader(f, t, _scenes_of_assets)
        self.transcript_segments_by_asset = paged_loader(f, t, _segments_of_assets)
        self.transcript_segments_by_scene = paged_loader(f, t, _segments_of_scenes)
        self.detections_by_asset = paged_loader(f, t, _detections_of_assets)
        self.detections_by_scene = paged_loader(f, t, _detections_of_scenes)
        self.similar_assets_by_asset = paged_loader(f, t, _similar_assets)
        self.similar_scenes_by_scene = paged_loader(f, t, _similar_scenes)
        self.relations_by_asset = DataLoader(load_fn=self._relations)
        self.people_by_asset = DataLoader(load_fn=self._people_of_assets)
        self.people_by_scene = DataLoader(load_fn=self._people_of_scenes)

    async def _people_of_assets(self, ids: list[uuid.UUID]) -> list[list[Person]]:
        """The visible people of each asset: one statement per batch."""
        async with self.factory() as session:
            found = await people_repository.people_of_assets(session, tenant_id=self.tenant_id, asset_ids=ids)
        return [found.get(i, []) for i in ids]

    async def _people_of_scenes(self, ids: list[uuid.UUID]) -> list[list[Person]]:
        """The visible people of each scene: one statement per batch."""
        async with self.factory() as session:
            found = await people_repository.people_of_scenes(session, tenant_id=self.tenant_id, scene_ids=ids)
        return [found.get(i, []) for i in ids]

    async def _relations(self, ids: list[uuid.UUID]) -> list[list[Relation]]:
        """Each asset's related assets with reasons: one read session per batch."""
        async with self.factory() as session:
            found = await relations.related(
                session, tenant_id=self.tenant_id, asset_ids=list(dict.fromkeys(ids))
            )
        return [found.get(i, []) for i in ids]

    def clear(self) -> None:
        """Forget cached rows (long-lived subscription contexts re-read state per event)."""
        clear_loaders(self)

"""People clustering on real face descriptors: same person joins, different people never merge,
editor corrections survive reprocessing and re-clustering, the same-person relation."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset
from app.core.db import session_scope
from app.core.enums import AssetKind, AssetStatus
from app.core.pagination import Page
from app.people import repository, service
from app.people.tracking import FrameFace, Track
from app.tenancy.models import Tenant
from tests.fixtures.faces import PEOPLE, descriptor_of

pytestmark = pytest.mark.models

MODEL = ("dlib-resnet-face", "v1-5pt-1")


def _track(name: str, start: float = 0.0, end: float = 0.0, x: float = 0.3) -> service.NewTrack:
    faces = [FrameFace(t, (x, 0.2, 0.3, 0.4), 0.9, descriptor_of(name)) for t in sorted({start, end})]
    return service.NewTrack(Track(faces), scene_id=None)


async def _asset(factory: async_sessionmaker[AsyncSession], tenant: Tenant) -> uuid.UUID:
    async with session_scope(factory) as session:
        asset = Asset(
            tenant_id=tenant.id,
            blob_key=f"sha256/aa/{uuid.uuid4().hex}",
            content_sha256=uuid.uuid4().hex * 2,
            mime_type="image/jpeg",
            size_bytes=10,
            kind=AssetKind.IMAGE,
            status=AssetStatus.READY,
            title="face",
        )
        session.add(asset)
    return asset.id


async def _analyse(
    factory: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    asset_id: uuid.UUID,
    tracks: list[service.NewTrack],
) -> list[uuid.UUID]:
    async with session_scope(factory) as session:
        rows = await service.replace_asset_faces(
            session,
            tenant_id=tenant.id,
            asset_id=asset_id,
            model_name=MODEL[0],
            model_version=MODEL[1],
            tracks=tracks,
        )
        return [r.person_id for r in rows if r.person_id is not None]


async def test_same_person_joins_different_people_never_merge(
    session_factory: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    persons: dict[str, uuid.UUID] = {}
    for name in ("obama", "biden", "obama2", "astronaut", "obama3"):
        asset = await _asset(session_factory, tenant)
        [persons[name]] = await _analyse(session_factory, tenant, asset, [_track(name)])
    # Pairwise over the five photos: same person <=> same Person.
    for a in persons:
        for b in persons:
            assert (persons[a] == persons[b]) == (PEOPLE[a] == PEOPLE[b]), (a, b)


async def test_editor_corrections_survive_reprocess_and_recluster(
    session_factory: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    one, two, three = [await _asset(session_factory, tenant) for _ in range(3)]
    [obama] = await _analyse(session_factory, tenant, one, [_track("obama")])
    [biden] = await _analyse(session_factory, tenant, two, [_track("biden")])
    [obama_b, astronaut] = await _analyse(
        session_factory, tenant, three, [_track("obama2", x=0.1), _track("astronaut", x=0.6)]
    )
    assert obama_b == obama
    async with session_scope(session_factory) as session:
        await service.rename_person(
            session, tenant_id=tenant.id, actor="t", person_id=obama, name="Barack Obama"
        )
        # An editor says (wrongly, on purpose) that the astronaut is Biden.
        await service.merge_people(
            session, tenant_id=tenant.id, actor="t", target_id=biden, source_ids=[astronaut]
        )
        # And moves the astronaut photo-3 track to a new person of its own.
        [track_three_obama] = [
            t.id
            for t in await repository.tracks_of_asset(session, tenant_id=tenant.id, asset_id=three)
            if t.person_id == obama
        ]
        moved = await service.move_tracks(
            session, tenant_id=tenant.id, actor="t", track_ids=[track_three_obama], person_id=None
        )
    # Reprocessing every asset (same content) keeps every correction and every id.
    await _analyse(session_factory, tenant, one, [_track("obama")])
    await _analyse(session_factory, tenant, two, [_track("biden")])
    again = await _analyse(
        session_factory, tenant, three, [_track("obama2", x=0.1), _track("astronaut", x=0.6)]
    )
    assert again == [moved.id, biden]
    async with session_scope(session_factory) as session:
        assert await service.recluster(session, tenant_id=tenant.id, model_version=MODEL[1]) == 0
        people = await repository.people_by_id(session, tenant_id=tenant.id, ids=[obama, biden, astronaut])
        assert people[obama].name == "Barack Obama"
        # The merged-away id resolves to the person it was merged into.
        assert people[astronaut].id == biden
        tracks = await repository.tracks_of_asset(session, tenant_id=tenant.id, asset_id=three)
        assert sorted((t.box_x, t.person_id, t.locked) for t in tracks) == [
            (0.1, moved.id, True),
            (0.6, biden, True),
        ]


async def test_same_person_relation_lists_the_other_assets(
    session_factory: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    one, two, three = [await _asset(session_factory, tenant) for _ in range(3)]
    [obama] = await _analyse(session_factory, tenant, one, [_track("obama")])
    await _analyse(session_factory, tenant, two, [_track("obama3"), _track("biden", x=0.6)])
    await _analyse(session_factory, tenant, three, [_track("astronaut")])
    async with session_scope(session_factory) as session:
        shared = await repository.co_person_assets(session, tenant_id=tenant.id, asset_ids=[one, two, three])
        assert {
            mine: [(s.asset_id, s.person_id, s.tracks_here, s.tracks_there) for s in rows]
            for mine, rows in shared.items()
        } == {one: [(two, obama, 1, 1)], two: [(one, obama, 1, 1)]}
        [(biden_person, n)] = await repository.co_appearing(session, tenant_id=tenant.id, person_id=obama)
        assert n == 1
        people = await repository.people_of_assets(session, tenant_id=tenant.id, asset_ids=[two])
        assert {p.id for p in people[two]} == {obama, biden_person.id}
        counts = await repository.face_counts(session, tenant_id=tenant.id, person_ids=[obama])
        assert counts == {obama: 2}
        listed = await repository.list_people(
            session, tenant_id=tenant.id, where=repository.PeopleFilter(), page=Page(first=10)
        )
        assert len(listed.rows) == 3
        tracks = await repository.tracks_of_people(session, tenant_id=tenant.id, person_ids=[obama])
        assert [t.asset_id for t in tracks[obama]] == sorted([one, two])

"""SQL for faces, face tracks and people.

Every read starts from a base statement: ``_tracks`` (the tenant's tracks of live assets) and
``_people`` (the tenant's persons that were not merged away). Writes take the tenant's people
lock first (``lock_people``) so two assets clustering at once never both create the same person.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from app.assets.repository import contains_pattern, is_live
from app.core.pagination import Ordering, Page, PageRows, ValueKind, one_page, rows_by_id
from app.media.service import vector_from_bytes, vector_to_bytes
from app.people.models import Face, FaceTrack, Person

PEOPLE_ORDER = Ordering(
    "person", ((Person.created_at, ValueKind.DATETIME), (Person.id, ValueKind.UUID)), False
)


def _tracks(tenant_id: uuid.UUID) -> Select[FaceTrack]:
    """The base of every read of face tracks: the tenant's, of live assets."""
    return select(FaceTrack).where(FaceTrack.tenant_id == tenant_id, is_live(FaceTrack.asset_id))


def _people(tenant_id: uuid.UUID) -> Select[Person]:
    """The base of every read of persons: the tenant's, not merged into another."""
    return select(Person).where(Person.tenant_id == tenant_id, Person.merged_into_id.is_(None))


# --- writes of the detect stage ----------------------------------------------------------------


async def lock_people(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Serialise the tenant's people writes until the transaction ends (SQLite: its one writer
    already does)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(tenant_id.bytes[:8], "big", signed=True)
        await session.execute(select(func.pg_advisory_xact_lock(key)))


async def tracks_of_asset(
    session: AsyncSession, *, tenant_id: uuid.UUID, asset_id: uuid.UUID
) -> list[FaceTrack]:
    """Every track of the asset, of any model version (what a reprocess replaces)."""
    stmt = select(FaceTrack).where(FaceTrack.tenant_id == tenant_id, FaceTrack.asset_id == asset_id)
    return list(await session.scalars(stmt.order_by(FaceTrack.start_s, FaceTrack.id)))


async def delete_tracks_of_asset(session: AsyncSession, *, tenant_id: uuid.UUID, asset_id: uuid.UUID) -> None:
    """Delete the asset's tracks and their faces."""
    await session.execute(delete(Face).where(Face.tenant_id == tenant_id, Face.asset_id == asset_id))
    await session.execute(
        delete(FaceTrack).where(FaceTrack.tenant_id == tenant_id, FaceTrack.asset_id == asset_id)
    )


async def centroids(
    session: AsyncSession, *, tenant_id: uuid.UUID, model_version: str
) -> list[tuple[uuid.UUID, np.ndarray]]:
    """(person id, centroid) of the tenant's persons in descriptor model ``model_version``."""
    stmt = _people(tenant_id).where(Person.model_version == model_version, Person.centroid.is_not(None))
    return [
        (p.id, vector_from_bytes(p.centroid)) for p in await session.scalars(stmt) if p.centroid is not None
    ]


async def add_person(session: AsyncSession, *, tenant_id: uuid.UUID, model_version: str) -> Person:
    """A new, unnamed person."""
    person = Person(tenant_id=tenant_id, model_version=model_version)
    session.add(person)
    await session.flush()
    return person


async def add_track(session: AsyncSession, track: FaceTrack, faces: Sequence[Face]) -> None:
    """Insert a new track, then its faces (no ORM relationship orders the two)."""
    session.add(track)
    await session.flush()
    session.add_all(faces)


async def refresh_people(
    session: AsyncSession, *, tenant_id: uuid.UUID, person_ids: Iterable[uuid.UUID]
) -> None:
    """Recompute the centroids of ``person_ids`` from their tracks; delete the ones left with
    no tracks that no editor named or hid (a named person stays, ready for later tracks)."""
    wanted = list(set(person_ids))
    if not wanted:
        return
    await session.flush()
    rows = await session.execute(
        select(FaceTrack.person_id, FaceTrack.descriptor).where(
            FaceTrack.tenant_id == tenant_id, FaceTrack.person_id.in_(wanted)
        )
    )
    members: dict[uuid.UUID, list[np.ndarray]] = defaultdict(list)
    for person_id, descriptor in rows:
        if person_id is not None:
            members[person_id].append(vector_from_bytes(descriptor))
    for person in await session.scalars(
        select(Person).where(Person.tenant_id == tenant_id, Person.id.in_(wanted))
    ):
        vectors = members.get(person.id)
        if vectors:
            person.centroid = vector_to_bytes(np.mean(np.stack(vectors), axis=0))
        elif person.name is None and not person.hidden and person.merged_into_id is None:
            await session.delete(person)
        else:
            person.centroid = None
    await session.flush()


# --- reads ---------------------------------------------------------------------------------


async def people_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Person]:
    """Persons by id; a merged-away id resolves to the person it was merged into."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    found = {
        p.id: p
        for p in await session.scalars(
            select(Person).where(Person.tenant_id == tenant_id, Person.id.in_(wanted))
        )
    }
    targets = {p.merged_into_id for p in found.values() if p.merged_into_id is not None}
    live = await rows_by_id(session, _people(tenant_id), Person.id, targets) if targets else {}
    out: dict[uuid.UUID, Person] = {}
    for pid, person in found.items():
        if person.merged_into_id is None:
            out[pid] = person
        elif person.merged_into_id in live:
            out[pid] = live[person.merged_into_id]
    return out


async def tracks_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, FaceTrack]:
    """Face tracks of the tenant's live assets, by id."""
    return await rows_by_id(session, _tracks(tenant_id), FaceTrack.id, ids)


@dataclass(frozen=True, slots=True)
class PeopleFilter:
    """Which persons: name containing ``name`` (case-insensitive); hidden ones or not (None:
    both)."""

    name: str | None = None
    hidden: bool | None = False


async def list_people(
    session: AsyncSession, *, tenant_id: uuid.UUID, where: PeopleFilter, page: Page
) -> PageRows[Person]:
    """The tenant's persons with at least one track on a live asset (or a name), oldest first."""
    stmt = _people(tenant_id).where(
        select(FaceTrack.id).where(FaceTrack.person_id == Person.id, is_live(FaceTrack.asset_id)).exists()
        | Person.name.is_not(None)
    )
    if where.name:
        stmt = stmt.where(Person.name.ilike(contains_pattern(where.name), escape="\\"))
    if where.hidden is not None:
        stmt = stmt.where(Person.hidden.is_(where.hidden))
    return await one_page(session, stmt, PEOPLE_ORDER, page)


async def tracks_of_people(
    session: AsyncSession, *, tenant_id: uuid.UUID, person_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[FaceTrack]]:
    """Each person's tracks on live assets, by asset then time."""
    stmt = _tracks(tenant_id).where(FaceTrack.person_id.in_(person_ids))
    out: dict[uuid.UUID, list[FaceTrack]] = defaultdict(list)
    for track in await session.scalars(stmt.order_by(FaceTrack.asset_id, FaceTrack.start_s, FaceTrack.id)):
        if track.person_id is not None:
            out[track.person_id].append(track)
    return out


async def face_counts(
    session: AsyncSession, *, tenant_id: uuid.UUID, person_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Number of face tracks (appearances) per person."""
    base = _tracks(tenant_id).where(FaceTrack.person_id.in_(person_ids)).subquery()
    rows = await session.execute(select(base.c.person_id, func.count()).group_by(base.c.person_id))
    return {pid: int(n) for pid, n in rows}


async def people_of_assets(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, list[Person]]:
    """The visible persons seen in each asset, by first appearance."""
    return await _people_of(session, tenant_id, FaceTrack.asset_id, asset_ids)


async def people_of_scenes(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    scene_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, list[Person]]:
    """The visible persons seen in each scene, by first appearance."""
    return await _people_of(session, tenant_id, FaceTrack.scene_id, scene_ids)


async def _people_of(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    column: InstrumentedAttribute[Any],
    anchor_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, list[Person]]:
    stmt = (
        _tracks(tenant_id)
        .with_only_columns(column, Person, func.min(FaceTrack.start_s).label("first_s"))
        .join(Person, Person.id == FaceTrack.person_id)
        .where(column.in_(anchor_ids), Person.merged_into_id.is_(None), Person.hidden.is_(False))
        .group_by(column, Person.id)
        .order_by(column, "first_s", Person.id)
    )
    out: dict[uuid.UUID, list[Person]] = defaultdict(list)
    for anchor_id, person, _first in await session.execute(stmt):
        if anchor_id is not None:
            out[anchor_id].append(person)
    return out


@dataclass(frozen=True, slots=True)
class SharedPerson:
    """Another asset that shows a person this asset shows, with the evidence."""

    asset_id: uuid.UUID
    person_id: uuid.UUID
    person_name: str | None
    # Tracks of the person in this asset and in the other one.
    tracks_here: int
    tracks_there: int


async def co_person_assets(
    session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Sequence[uuid.UUID], limit: int = 200
) -> dict[uuid.UUID, list[SharedPerson]]:
    """For each of ``asset_ids``, the live assets of the tenant sharing a (not hidden) person
    with it, most shared tracks first, at most ``limit``: the "same person" relation (one
    statement for the whole batch)."""
    here = (
        _tracks(tenant_id)
        .with_only_columns(FaceTrack.asset_id, FaceTrack.person_id, func.count().label("n"))
        .where(FaceTrack.asset_id.in_(asset_ids), FaceTrack.person_id.is_not(None))
        .group_by(FaceTrack.asset_id, FaceTrack.person_id)
        .subquery()
    )
    other = aliased(FaceTrack)
    there = func.count(other.id)
    rank = func.row_number().over(
        partition_by=here.c.asset_id, order_by=(there.desc(), other.asset_id, Person.id)
    )
    shared = (
        select(
            here.c.asset_id.label("mine"),
            other.asset_id.label("other"),
            Person.id.label("person_id"),
            Person.name,
            here.c.n,
            there.label("there"),
            rank.label("rank"),
        )
        .select_from(other)
        .join(here, here.c.person_id == other.person_id)
        .join(Person, Person.id == other.person_id)
        .where(
            other.tenant_id == tenant_id,
            other.asset_id != here.c.asset_id,
            is_live(other.asset_id),
            Person.hidden.is_(False),
        )
        .group_by(here.c.asset_id, other.asset_id, Person.id, Person.name, here.c.n)
        .subquery()
    )
    stmt = (
        select(shared.c.mine, shared.c.other, shared.c.person_id, shared.c.name, shared.c.n, shared.c.there)
        .where(shared.c.rank <= limit)
        .order_by(shared.c.mine, shared.c.rank)
    )
    out: dict[uuid.UUID, list[SharedPerson]] = defaultdict(list)
    for mine, other_id, person_id, name, n_here, n_there in await session.execute(stmt):
        out[mine].append(SharedPerson(other_id, person_id, name, int(n_here), int(n_there)))
    return out


async def co_appearing(
    session: AsyncSession, *, tenant_id: uuid.UUID, person_id: uuid.UUID, limit: int = 50
) -> list[tuple[Person, int]]:
    """Persons seen in the same assets as ``person_id``, with the number of shared assets."""
    mine = (
        _tracks(tenant_id)
        .with_only_columns(FaceTrack.asset_id)
        .where(FaceTrack.person_id == person_id)
        .distinct()
    )
    other = aliased(FaceTrack)
    shared = func.count(func.distinct(other.asset_id))
    stmt = (
        select(Person, shared)
        .join(other, other.person_id == Person.id)
        .where(
            Person.tenant_id == tenant_id,
            Person.merged_into_id.is_(None),
            Person.hidden.is_(False),
            Person.id != person_id,
            other.tenant_id == tenant_id,
            other.asset_id.in_(mine.scalar_subquery()),
        )
        .group_by(Person.id)
        .order_by(shared.desc(), Person.id)
        .limit(limit)
    )
    return [(person, int(n)) for person, n in await session.execute(stmt)]


async def assets_of_person(
    session: AsyncSession, *, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> list[uuid.UUID]:
    """The live assets showing ``person_id`` (search's person filter)."""
    stmt = (
        _tracks(tenant_id)
        .with_only_columns(FaceTrack.asset_id)
        .where(FaceTrack.person_id == person_id)
        .distinct()
    )
    return list(await session.scalars(stmt))


# --- editor corrections ----------------------------------------------------------------------


async def assign_tracks(
    session: AsyncSession, *, tenant_id: uuid.UUID, track_ids: Sequence[uuid.UUID], person_id: uuid.UUID
) -> list[uuid.UUID]:
    """Put ``track_ids`` in ``person_id``, locked; return the persons they left."""
    stmt = (
        _tracks(tenant_id)
        .with_only_columns(FaceTrack.person_id)
        .where(FaceTrack.id.in_(track_ids))
        .distinct()
    )
    left = [pid for pid in await session.scalars(stmt) if pid is not None and pid != person_id]
    await session.execute(
        update(FaceTrack)
        .where(FaceTrack.tenant_id == tenant_id, FaceTrack.id.in_(track_ids))
        .values(person_id=person_id, locked=True)
        .execution_options(synchronize_session=False)
    )
    return left


async def merge_into(
    session: AsyncSession, *, tenant_id: uuid.UUID, target_id: uuid.UUID, source_ids: Sequence[uuid.UUID]
) -> None:
    """Move every track of ``source_ids`` to ``target_id`` (locked) and mark the sources merged."""
    await session.execute(
        update(FaceTrack)
        .where(FaceTrack.tenant_id == tenant_id, FaceTrack.person_id.in_(source_ids))
        .values(person_id=target_id, locked=True)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Person)
        .where(Person.tenant_id == tenant_id, Person.id.in_(source_ids))
        .values(merged_into_id=target_id, centroid=None)
        .execution_options(synchronize_session=False)
    )
    # Ids merged into a source earlier now lead to the target too.
    await session.execute(
        update(Person)
        .where(Person.tenant_id == tenant_id, Person.merged_into_id.in_(source_ids))
        .values(merged_into_id=target_id)
        .execution_options(synchronize_session=False)
    )


async def reclusterable(
    session: AsyncSession, *, tenant_id: uuid.UUID, model_version: str
) -> list[tuple[uuid.UUID, np.ndarray]]:
    """(id, centroid) of the persons a re-cluster may merge: unnamed, visible, with no track an
    editor placed."""
    locked = select(FaceTrack.id).where(FaceTrack.person_id == Person.id, FaceTrack.locked.is_(True)).exists()
    stmt = _people(tenant_id).where(
        Person.model_version == model_version,
        Person.centroid.is_not(None),
        Person.name.is_(None),
        Person.hidden.is_(False),
        ~locked,
    )
    return [
        (p.id, vector_from_bytes(p.centroid))
        for p in await session.scalars(stmt.order_by(Person.created_at, Person.id))
        if p.centroid is not None
    ]


async def move_unlocked(
    session: AsyncSession, *, tenant_id: uuid.UUID, source_id: uuid.UUID, target_id: uuid.UUID
) -> None:
    """A re-cluster's merge: the source's tracks join the target (unlocked), the source is merged."""
    await session.execute(
        update(FaceTrack)
        .where(FaceTrack.tenant_id == tenant_id, FaceTrack.person_id == source_id)
        .values(person_id=target_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Person)
        .where(Person.tenant_id == tenant_id, Person.id == source_id)
        .values(merged_into_id=target_id, centroid=None)
        .execution_options(synchronize_session=False)
    )

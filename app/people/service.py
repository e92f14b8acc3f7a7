"""People: the detect stage's tracks clustered per tenant, and the editors' corrections.

Clustering is incremental: a new track joins the person whose centroid (mean descriptor of
its tracks) is nearest, when that is under ``PERSON_THRESHOLD``; otherwise it starts a person.
Ids are stable: a reprocessed asset's new tracks first inherit the person (and the editor's
lock) of the old track they repeat (same time span, close descriptor), so reprocessing never
moves an appearance an editor placed, nor renumbers anyone. ``recluster`` merges persons whose
centroids came close, but never a named, hidden or editor-touched one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.service import SEARCH_SYNC_ACTOR
from app.audit.service import record
from app.core.container import Enqueuer
from app.core.errors import NotFoundError
from app.jobs.outbox import defer_send
from app.media.service import vector_from_bytes, vector_to_bytes
from app.people import repository
from app.people.models import Face, FaceTrack, Person
from app.people.tracking import SAME_FACE, Track, distance

PERSON_THRESHOLD = SAME_FACE


class PersonNotFoundError(NotFoundError):
    """No such person (or face) in the tenant."""


@dataclass(frozen=True, slots=True)
class NewTrack:
    """A track of the asset being analysed, where it was seen and its best face's crop."""

    track: Track
    scene_id: uuid.UUID | None
    crop_blob_key: str | None = None
    # The appearance's span when it is wider than its sampled faces (seen in a shot's first
    # and last samples: the whole shot); None: the faces' own times.
    span: tuple[float, float] | None = None

    @property
    def start_s(self) -> float:
        """Start of the appearance."""
        return self.span[0] if self.span else self.track.start_s

    @property
    def end_s(self) -> float:
        """End of the appearance."""
        return self.span[1] if self.span else self.track.end_s


def _overlaps(old: FaceTrack, new: NewTrack) -> bool:
    # An image's tracks all sit at 0 s; a video's repeat when their spans touch.
    return old.start_s <= new.end_s + 0.5 and new.start_s <= old.end_s + 0.5


async def replace_asset_faces(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    model_name: str,
    model_version: str,
    tracks: Sequence[NewTrack],
) -> list[FaceTrack]:
    """Replace the asset's tracks with ``tracks`` and place each in a person."""
    await repository.lock_people(session, tenant_id)
    old = await repository.tracks_of_asset(session, tenant_id=tenant_id, asset_id=asset_id)
    touched: set[uuid.UUID] = {t.person_id for t in old if t.person_id is not None}
    await repository.delete_tracks_of_asset(session, tenant_id=tenant_id, asset_id=asset_id)

    descriptors = [n.track.descriptor() for n in tracks]
    # 1. Inherit from the old track each new one repeats (closest first, each old one once).
    inherited: dict[int, tuple[uuid.UUID, bool]] = {}
    pairs = sorted(
        (distance(descriptors[i], vector_from_bytes(o.descriptor)), i, j, o.person_id, o.locked)
        for i, n in enumerate(tracks)
        for j, o in enumerate(old)
        if o.person_id is not None and o.model_version == model_version and _overlaps(o, n)
    )
    used: set[int] = set()
    for d, i, j, old_person_id, old_locked in pairs:
        if d < PERSON_THRESHOLD and i not in inherited and j not in used:
            inherited[i] = (old_person_id, old_locked)
            used.add(j)

    # 2. Cluster the rest against the tenant's persons (and the ones this asset starts).
    known = await repository.centroids(session, tenant_id=tenant_id, model_version=model_version)
    rows: list[FaceTrack] = []
    for i, new in enumerate(tracks):
        person_id: uuid.UUID
        locked = False
        if i in inherited:
            person_id, locked = inherited[i]
        else:
            best = min(known, key=lambda pc: distance(descriptors[i], pc[1]), default=None)
            if best is not None and distance(descriptors[i], best[1]) < PERSON_THRESHOLD:
                person_id = best[0]
            else:
                person = await repository.add_person(
                    session, tenant_id=tenant_id, model_version=model_version
                )
                person_id = person.id
                known.append((person_id, descriptors[i]))
        touched.add(person_id)
        row, faces = _track_row(tenant_id, asset_id, (model_name, model_version), new, descriptors[i])
        row.person_id, row.locked = person_id, locked
        await repository.add_track(session, row, faces)
        rows.append(row)
    await repository.refresh_people(session, tenant_id=tenant_id, person_ids=touched)
    return rows


def _track_row(
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    model: tuple[str, str],
    new: NewTrack,
    descriptor: np.ndarray,
) -> tuple[FaceTrack, list[Face]]:
    best = new.track.best
    stamp = {"tenant_id": tenant_id, "model_name": model[0], "model_version": model[1], "asset_id": asset_id}
    row = FaceTrack(
        **stamp,
        scene_id=new.scene_id,
        start_s=new.start_s,
        end_s=new.end_s,
        face_count=len(new.track.faces),
        best_time_s=best.time_s,
        box_x=best.box[0],
        box_y=best.box[1],
        box_w=best.box[2],
        box_h=best.box[3],
        score=best.score,
        crop_blob_key=new.crop_blob_key,
        descriptor=vector_to_bytes(descriptor),
    )
    faces = [
        Face(
            **stamp,
            track_id=row.id,
            time_s=f.time_s,
            box_x=f.box[0],
            box_y=f.box[1],
            box_w=f.box[2],
            box_h=f.box[3],
            score=f.score,
            dimension=len(f.descriptor),
            descriptor=vector_to_bytes(f.descriptor),
        )
        for f in new.track.faces
        if f.descriptor is not None
    ]
    return row, faces


# --- editor corrections (each audited in the caller's transaction) ------------------------------


async def _person(session: AsyncSession, tenant_id: uuid.UUID, person_id: uuid.UUID) -> Person:
    found = (await repository.people_by_id(session, tenant_id=tenant_id, ids=[person_id])).get(person_id)
    if found is None:
        raise PersonNotFoundError(str(person_id))
    return found


async def _sync_search(
    session: AsyncSession, enqueuer: Enqueuer | None, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> None:
    """Re-index (after commit) every asset showing the person: its documents carry the names
    and ids of the people in it. The per-asset search sync an asset edit uses; a lost message
    is caught up by the next index run or reindex."""
    await session.flush()
    for asset_id in await repository.assets_of_person(session, tenant_id=tenant_id, person_id=person_id):
        defer_send(
            session,
            enqueuer,
            actor_name=SEARCH_SYNC_ACTOR,
            queue="realtime",
            args={"tenant_id": str(tenant_id), "asset_id": str(asset_id)},
        )


async def rename_person(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    person_id: uuid.UUID,
    name: str | None,
    enqueuer: Enqueuer | None = None,
) -> Person:
    """Name (or, with None or blank, unname) a person."""
    person = await _person(session, tenant_id, person_id)
    old = person.name
    person.name = (name or "").strip() or None
    if person.name != old:
        await _sync_search(session, enqueuer, tenant_id, person.id)
    await record(
        session, tenant_id=tenant_id, actor=actor, action="person.rename", entity_type="person",
        entity_id=person.id, details={"from": old, "to": person.name},
    )  # fmt: skip
    return person


async def hide_person(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    person_id: uuid.UUID,
    hidden: bool,
    enqueuer: Enqueuer | None = None,
) -> Person:
    """Hide a person from lists, assets and search (or show it again)."""
    person = await _person(session, tenant_id, person_id)
    if person.hidden != hidden:
        person.hidden = hidden
        await _sync_search(session, enqueuer, tenant_id, person.id)
    await record(
        session, tenant_id=tenant_id, actor=actor, action="person.hide", entity_type="person",
        entity_id=person.id, details={"hidden": hidden},
    )  # fmt: skip
    return person


async def merge_people(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    target_id: uuid.UUID,
    source_ids: Sequence[uuid.UUID],
    enqueuer: Enqueuer | None = None,
) -> Person:
    """Merge ``source_ids`` into ``target_id``: their tracks move, locked; their ids resolve to
    the target from now on; the target keeps its name (or takes the first source's)."""
    await repository.lock_people(session, tenant_id)
    target = await _person(session, tenant_id, target_id)
    found = await repository.people_by_id(session, tenant_id=tenant_id, ids=source_ids)
    sources = [found[s] for s in source_ids if s in found and found[s].id != target.id]
    if len(sources) != len([s for s in source_ids if s != target_id]):
        missing = [str(s) for s in source_ids if s not in found]
        raise PersonNotFoundError(", ".join(missing) or "a source is the target")
    if target.name is None:
        target.name = next((s.name for s in sources if s.name), None)
    ids = [s.id for s in sources]
    await repository.merge_into(session, tenant_id=tenant_id, target_id=target.id, source_ids=ids)
    await repository.refresh_people(session, tenant_id=tenant_id, person_ids=[target.id])
    await _sync_search(session, enqueuer, tenant_id, target.id)
    await record(
        session, tenant_id=tenant_id, actor=actor, action="person.merge", entity_type="person",
        entity_id=target.id, details={"merged": [str(i) for i in ids]},
    )  # fmt: skip
    return target


async def move_tracks(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    track_ids: Sequence[uuid.UUID],
    person_id: uuid.UUID | None,
    enqueuer: Enqueuer | None = None,
) -> Person:
    """Move face tracks to ``person_id`` (None: a new person), locked there."""
    await repository.lock_people(session, tenant_id)
    tracks = await repository.tracks_by_id(session, tenant_id=tenant_id, ids=track_ids)
    if len(tracks) != len(set(track_ids)):
        raise PersonNotFoundError("no such face: " + ", ".join(str(t) for t in track_ids if t not in tracks))
    if person_id is None:
        version = next(iter(tracks.values())).model_version if tracks else ""
        target = await repository.add_person(session, tenant_id=tenant_id, model_version=version)
    else:
        target = await _person(session, tenant_id, person_id)
    left = await repository.assign_tracks(
        session, tenant_id=tenant_id, track_ids=list(tracks), person_id=target.id
    )
    await repository.refresh_people(session, tenant_id=tenant_id, person_ids=[target.id, *left])
    await _sync_search(session, enqueuer, tenant_id, target.id)
    await record(
        session, tenant_id=tenant_id, actor=actor, action="person.move_faces", entity_type="person",
        entity_id=target.id, details={"faces": [str(t) for t in tracks], "from": [str(p) for p in left]},
    )  # fmt: skip
    return target


async def recluster(session: AsyncSession, *, tenant_id: uuid.UUID, model_version: str) -> int:
    """Merge persons whose centroids are under the threshold, oldest kept; never a named,
    hidden or editor-touched person. Returns the number of merges."""
    await repository.lock_people(session, tenant_id)
    people = await repository.reclusterable(session, tenant_id=tenant_id, model_version=model_version)
    merged = 0
    alive: list[tuple[uuid.UUID, np.ndarray]] = []
    for pid, centroid in people:
        best = min(alive, key=lambda pc: distance(centroid, pc[1]), default=None)
        if best is not None and distance(centroid, best[1]) < PERSON_THRESHOLD:
            await repository.move_unlocked(session, tenant_id=tenant_id, source_id=pid, target_id=best[0])
            merged += 1
        else:
            alive.append((pid, centroid))
    if merged:
        await repository.refresh_people(session, tenant_id=tenant_id, person_ids=[p for p, _ in alive])
    return merged

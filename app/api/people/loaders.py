"""Loaders of people: a page of persons asks for its face counts and tracks in one statement each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from app.api.batching import SessionFactory, by_id_loader, clear_loaders
from app.people import repository as repo
from app.people.models import FaceTrack, Person


@dataclass(slots=True)
class PeopleLoaders:
    """Per-request loaders of people."""

    factory: SessionFactory
    tenant_id: uuid.UUID
    # A merged-away id loads the person it was merged into (``people_by_id``).
    person_by_id: DataLoader[uuid.UUID, Person | None] = field(init=False)
    face_count_by_person: DataLoader[uuid.UUID, int] = field(init=False)
    tracks_by_person: DataLoader[uuid.UUID, list[FaceTrack]] = field(init=False)

    def __post_init__(self) -> None:
        self.person_by_id = by_id_loader(self.factory, self.tenant_id, repo.people_by_id)
        self.face_count_by_person = DataLoader(load_fn=self._face_counts)
        self.tracks_by_person = DataLoader(load_fn=self._tracks)

    async def _face_counts(self, ids: list[uuid.UUID]) -> list[int]:
        async with self.factory() as session:
            found = await repo.face_counts(session, tenant_id=self.tenant_id, person_ids=ids)
        return [found.get(i, 0) for i in ids]

    async def _tracks(self, ids: list[uuid.UUID]) -> list[list[FaceTrack]]:
        async with self.factory() as session:
            found = await repo.tracks_of_people(session, tenant_id=self.tenant_id, person_ids=ids)
        return [found.get(i, []) for i in ids]

    def clear(self) -> None:
        """Forget cached rows (long-lived subscription contexts re-read state per event)."""
        clear_loaders(self)

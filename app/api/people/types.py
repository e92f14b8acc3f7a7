"""GraphQL types of people: ``Person`` and its appearances (face tracks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from app.api.context import Info
from app.api.fields import field
from app.api.ids import to_global_id
from app.api.urls import blob_url
from app.people import repository as people_repository
from app.people.models import FaceTrack, Person

if TYPE_CHECKING:
    from app.api.assets.types import AssetType

_ASSETS = "app.api.assets.types"
PERSON_TYPE = "Person"
FACE_TYPE = "Face"


@strawberry.type(name="PersonAppearance", description="One on-screen appearance of a person: a face track.")
class PersonAppearanceType:
    """GraphQL view of a ``FaceTrack`` row."""

    row: strawberry.Private[FaceTrack]

    @field(description="The appearance's ID (Face): what moveFaces moves.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(FACE_TYPE, self.row.id))

    @field(description="The asset it is in.")
    async def asset(self, info: Info) -> Annotated[AssetType, strawberry.lazy(_ASSETS)] | None:
        from app.api.assets.types import AssetType

        row = await info.context.loaders.assets.asset_by_id.load(self.row.asset_id)
        return AssetType.from_row(row) if row is not None else None

    @field(description="Seconds from the asset start where the face is first on screen (0 for an image).")
    def start_s(self) -> float:
        return self.row.start_s

    @field(description="Seconds from the asset start where it is last on screen.")
    def end_s(self) -> float:
        return self.row.end_s

    @field(description="Whether an editor placed it in this person (re-clustering never moves it).")
    def locked(self) -> bool:
        return self.row.locked

    @field(description="Signed URL of the face's crop (JPEG, fits 160 px), or null.")
    def crop_url(self, info: Info) -> str | None:
        key = self.row.crop_blob_key
        return (
            blob_url(key, signer=info.context.url_signer, tenant_id=info.context.caller.tenant_id)
            if key
            else None
        )


@strawberry.type(name="CoAppearance", description="A person seen in the same assets, and in how many.")
class CoAppearanceType:
    """A co-appearing person and the number of shared assets."""

    person: Annotated[PersonType, strawberry.lazy("app.api.people.types")] = strawberry.field(
        description="The other person."
    )
    asset_count: int = strawberry.field(description="Assets both appear in.")


@strawberry.type(
    name="Person", description="A person: face appearances clustered across the tenant's assets."
)
class PersonType(relay.Node):
    """GraphQL view of a ``Person`` row."""

    node_id: relay.NodeID[str]
    row: strawberry.Private[Person]

    @classmethod
    def from_row(cls, row: Person) -> PersonType:
        """The GraphQL object of ``row``."""
        return cls(node_id=str(row.id), row=row)

    @field(description="The name an editor gave, or null.")
    def name(self) -> str | None:
        return self.row.name

    @field(description="Whether an editor hid the person (left out of lists and assets).")
    def hidden(self) -> bool:
        return self.row.hidden

    @field(description="How many appearances (face tracks) the person has on live assets.")
    async def face_count(self, info: Info) -> int:
        return await info.context.loaders.people.face_count_by_person.load(self.row.id)

    @field(description="The person's appearances, by asset then time (at most `first`).")
    async def appearances(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="At most this many (<= 200).")] = 50,
    ) -> list[PersonAppearanceType]:
        tracks = await info.context.loaders.people.tracks_by_person.load(self.row.id)
        return [PersonAppearanceType(row=t) for t in tracks[: max(0, min(first, 200))]]

    @field(description="Signed URL of the cover face crop (the largest, most confident face), or null.")
    async def cover_url(self, info: Info) -> str | None:
        tracks = await info.context.loaders.people.tracks_by_person.load(self.row.id)
        rows = [t for t in tracks if t.crop_blob_key]
        if self.row.cover_track_id is not None:
            rows = [t for t in rows if t.id == self.row.cover_track_id] or rows
        if not rows:
            return None
        best = max(rows, key=lambda t: (t.box_w * t.box_h, t.score))
        key = best.crop_blob_key
        return (
            blob_url(key, signer=info.context.url_signer, tenant_id=info.context.caller.tenant_id)
            if key
            else None
        )

    @field(description="People seen in the same assets, most shared assets first (hidden ones left out).")
    async def co_appearing(self, info: Info) -> list[CoAppearanceType]:
        async with info.context.read_session_factory() as session:
            found = await people_repository.co_appearing(
                session, tenant_id=info.context.caller.tenant_id, person_id=self.row.id
            )
        return [CoAppearanceType(person=PersonType.from_row(p), asset_count=n) for p, n in found]

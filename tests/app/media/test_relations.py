"""Relations batch their reads: a relation graph reads the tenant's text and label corpus once,
however many rings it asks, and the same-person reason reads a whole batch of assets at once."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset
from app.core.db import session_scope
from app.core.enums import AssetKind, AssetStatus, DetectionKind, RelationReason
from app.media import relations
from app.media.models import Detection
from app.people.models import FaceTrack, Person
from app.tenancy.models import Tenant

# a~b share a code on screen and a label, b~c another code; the filler assets make the codes
# rare (a term more than half the assets show weighs nothing).
TEXTS = {
    "a": ["XJ-2041"],
    "b": ["XJ-2041", "zulu-99"],
    "c": ["zulu-99"],
    "d": ["weather report"],
    "e": ["traffic update"],
}
LABELS = {"a": ["giraffe"], "b": ["giraffe"], "d": ["car"], "e": ["tree"]}


async def _world(factory: async_sessionmaker[AsyncSession], tenant: Tenant) -> dict[str, uuid.UUID]:
    ids: dict[str, uuid.UUID] = {}
    async with session_scope(factory) as session:
        for name in TEXTS:
            asset = Asset(
                tenant_id=tenant.id,
                blob_key=f"sha256/aa/{uuid.uuid4().hex}",
                content_sha256=uuid.uuid4().hex * 2,
                mime_type="image/jpeg",
                size_bytes=10,
                kind=AssetKind.IMAGE,
                status=AssetStatus.READY,
                title=name,
            )
            session.add(asset)
            await session.flush()
            ids[name] = asset.id
            stamp: dict[str, Any] = {"tenant_id": tenant.id, "asset_id": asset.id, "confidence": 0.9}
            session.add_all(
                Detection(**stamp, model_name="ocr", model_version="1", kind=DetectionKind.TEXT, label=t)
                for t in TEXTS[name]
            )
            session.add_all(
                Detection(**stamp, model_name="det", model_version="1", kind=DetectionKind.LABEL, label=label)
                for label in LABELS.get(name, [])
            )
    return ids


class _Statements:
    """Records the statements run on the session's engine that read ``table``."""

    def __init__(self, session: AsyncSession, table: str) -> None:
        self.engine, self.table, self.seen = session.get_bind(), table, list[str]()

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if f"FROM {self.table}" in statement:
            self.seen.append(statement)

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


async def test_a_depth_two_graph_reads_each_detection_corpus_once(
    session_factory: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    ids = await _world(session_factory, tenant)
    names = {v: k for k, v in ids.items()}
    async with session_factory() as session:
        with _Statements(session, "detection") as detection_reads:
            graph = await relations.relation_graph(
                session, tenant_id=tenant.id, root_id=ids["a"], depth=2, limit=10
            )

    assert [names[n] for n in graph.node_ids] == ["a", "b", "c"]
    assert [
        (names[e.asset_id], names[e.other_id], sorted(r.reason for r in e.reasons)) for e in graph.edges
    ] == [
        ("a", "b", [RelationReason.SHARED_LABEL, RelationReason.SHARED_TEXT]),
        ("b", "c", [RelationReason.SHARED_TEXT]),
    ]
    # Three calls of ``related`` (the root, the first ring, the last ring's back edges), one
    # read of the text corpus and one of the label corpus.
    assert len(detection_reads) == 2


async def test_the_same_person_reason_reads_a_batch_of_assets_in_one_statement(
    session_factory: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    ids = await _world(session_factory, tenant)
    async with session_scope(session_factory) as session:
        ada, bob = (Person(tenant_id=tenant.id, name=n, model_version="1") for n in ("Ada", "Bob"))
        session.add_all([ada, bob])
        await session.flush()
        # Ada in a and c (twice in c), Bob in b and c.
        for person, asset in ((ada, "a"), (ada, "c"), (ada, "c"), (bob, "b"), (bob, "c")):
            session.add(
                FaceTrack(
                    tenant_id=tenant.id, model_name="faces", model_version="1", asset_id=ids[asset],
                    person_id=person.id, start_s=0.0, end_s=0.0, box_x=0.1, box_y=0.1, box_w=0.2,
                    box_h=0.2, descriptor=b"\0" * 512,
                )
            )  # fmt: skip
    source = relations.SamePersonSource()
    async with session_factory() as session:
        with _Statements(session, "face_track") as reads:
            scores = await source.scores(
                session, tenant_id=tenant.id, asset_ids=[ids["a"], ids["b"], ids["c"]]
            )
    assert len(reads) == 1
    assert {
        (mine, other): (score.score, score.person_ids)
        for mine, scored in scores.items()
        for other, score in scored.items()
    } == {
        (ids["a"], ids["c"]): (0.8, (ada.id,)),
        (ids["b"], ids["c"]): (0.8, (bob.id,)),
        (ids["c"], ids["a"]): (0.8, (ada.id,)),
        (ids["c"], ids["b"]): (0.8, (bob.id,)),
    }

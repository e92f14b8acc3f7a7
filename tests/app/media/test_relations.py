"""A relation graph reads the tenant's text and label corpus once, however many rings it asks."""

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


async def test_a_depth_two_graph_reads_each_detection_corpus_once(
    session_factory: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    ids = await _world(session_factory, tenant)
    names = {v: k for k, v in ids.items()}
    detection_reads: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM detection" in statement:
            detection_reads.append(statement)

    async with session_factory() as session:
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", record)
        try:
            graph = await relations.relation_graph(
                session, tenant_id=tenant.id, root_id=ids["a"], depth=2, limit=10
            )
        finally:
            event.remove(engine, "before_cursor_execute", record)

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

"""Output replacement is idempotent per (asset, model version) and leaves other versions alone."""

from __future__ import annotations

import io
import uuid

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.models import Asset
from app.assets.service import ingest_stream
from app.core.container import Services
from app.core.enums import DetectionKind, Modality, OwnerType
from app.media import service as media
from app.media.models import Detection, Embedding, Scene
from app.tenancy.models import Tenant


async def _asset(services: Services, tenant: Tenant, session: AsyncSession) -> Asset:
    result = await ingest_stream(
        session,
        services=services,
        tenant_id=tenant.id,
        stream=io.BytesIO(b"some text"),
        filename="a.txt",
        actor="t",
    )
    return result.asset


async def _count(session: AsyncSession, model: type[object], **where: object) -> int:
    stmt = select(func.count()).select_from(model).filter_by(**where)
    return int(await session.scalar(stmt) or 0)


async def test_replacing_scenes_twice_keeps_one_set_per_model_version(
    services: Services, tenant: Tenant
) -> None:
    async with services.session_factory() as session:
        asset = await _asset(services, tenant, session)
        scenes = [{"ordinal": i, "start_s": 2.0 * i, "end_s": 2.0 * (i + 1)} for i in range(3)]
        for _ in range(2):
            await media.replace_scenes(
                session,
                tenant_id=tenant.id,
                asset_id=asset.id,
                model_name="sd",
                model_version="1",
                scenes=scenes,
            )
        await media.replace_scenes(
            session,
            tenant_id=tenant.id,
            asset_id=asset.id,
            model_name="sd",
            model_version="2",
            scenes=scenes[:1],
        )
        await session.commit()
        assert await _count(session, Scene, model_version="1") == 3
        assert await _count(session, Scene, model_version="2") == 1


async def test_detection_replacement_is_scoped_to_kinds(services: Services, tenant: Tenant) -> None:
    async with services.session_factory() as session:
        asset = await _asset(services, tenant, session)
        visual = [DetectionKind.LABEL, DetectionKind.FACE]
        batches = [
            ([DetectionKind.TEXT], [{"kind": DetectionKind.TEXT, "label": "HELLO", "confidence": 0.9}]),
            (visual, [{"kind": DetectionKind.LABEL, "label": "tabby", "confidence": 0.8}] * 2),
            (visual, [{"kind": DetectionKind.FACE, "label": "face", "confidence": 0.7}]),
        ]
        for replaced_kinds, detections in batches:
            await media.replace_detections(
                session,
                tenant_id=tenant.id,
                asset_id=asset.id,
                model_name="m",
                model_version="1",
                kinds=replaced_kinds,
                detections=detections,
            )
        await session.commit()
        kinds = sorted((await session.scalars(select(Detection.kind))).all())
        assert kinds == [DetectionKind.FACE, DetectionKind.TEXT]


async def test_embeddings_round_trip_float32(services: Services, tenant: Tenant) -> None:
    vector = np.linspace(-1, 1, 384, dtype=np.float64)
    async with services.session_factory() as session:
        asset = await _asset(services, tenant, session)
        owner = uuid.uuid4()
        for _ in range(2):
            await media.replace_embeddings(
                session,
                tenant_id=tenant.id,
                asset_id=asset.id,
                modality=Modality.TEXT,
                model_name="minilm",
                model_version="1",
                embeddings=[(OwnerType.SEGMENT, owner, vector, "abc")],
            )
        await session.commit()
        (row,) = (await session.scalars(select(Embedding))).all()
    assert row.dimension == 384
    assert len(row.vector) == 384 * 4
    np.testing.assert_allclose(media.vector_from_bytes(row.vector), vector.astype(np.float32))

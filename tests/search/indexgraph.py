"""A small, fully known media graph with vectors, inserted through the ORM, for the tests of
the index stage, the search field and reindexing (the analysis stages are tested elsewhere).

Vectors are tiny (4-d text, 3-d visual) and named by made-up models, so every search result
can be worked out by hand; ``SPEC`` is the generation built for them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset
from app.core.enums import AssetKind, AssetStatus, DetectionKind, Modality, OwnerType
from app.media.models import Detection, Embedding, Scene, TranscriptSegment
from app.media.service import vector_to_bytes
from search.backend import GenerationSpec, VectorSpec
from search.documents import VectorField

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TEXT_MODEL = ("text-m", "1")
VISUAL_MODEL = ("vis-m", "1")
SPEC = GenerationSpec(
    name="g1",
    vectors={
        VectorField.TEXT: VectorSpec(4, "text-m:1"),
        VectorField.VISUAL: VectorSpec(3, "vis-m:1"),
    },
)
# One axis per topic, so cosine similarities are 1 on topic and 0 off it.
SEA = [1.0, 0.0, 0.0, 0.0]
LIGHT = [0.0, 1.0, 0.0, 0.0]
LOG = [0.0, 0.0, 1.0, 0.0]
TITLE = [0.0, 0.0, 0.0, 1.0]


@dataclass
class IndexGraph:
    """The rows ``build_index_graph`` inserted."""

    harbour: Asset
    poster: Asset
    gone: Asset
    scenes: list[Scene] = field(default_factory=list)
    old_scene: Scene | None = None
    poster_scene: Scene | None = None
    segments: list[TranscriptSegment] = field(default_factory=list)


def _emb(
    asset: Asset,
    owner_type: OwnerType,
    owner_id: uuid.UUID,
    modality: Modality,
    model: tuple[str, str],
    values: list[float],
) -> Embedding:
    vector = np.asarray(values, dtype=np.float32)
    return Embedding(
        tenant_id=asset.tenant_id,
        asset_id=asset.id,
        owner_type=owner_type,
        owner_id=owner_id,
        modality=modality,
        model_name=model[0],
        model_version=model[1],
        dimension=len(values),
        vector=vector_to_bytes(vector),
        created_at=T0 + timedelta(minutes=5),
    )


def _asset(tenant_id: uuid.UUID, n: int, **values: object) -> Asset:
    base: dict[str, object] = {
        "tenant_id": tenant_id,
        "status": AssetStatus.READY,
        "blob_key": f"sha256/{n:02d}/x",
        "content_sha256": f"{n:064x}",
        "mime_type": "video/mp4",
        "size_bytes": 100 * n,
        "created_at": T0 + timedelta(days=n),
        "updated_at": T0 + timedelta(days=n),
    }
    base.update(values)
    return Asset(**base)


async def build_index_graph(factory: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID) -> IndexGraph:
    """A 60 s video (two shots, speech, a caption, a label, faces), an image and a deleted video."""
    harbour = _asset(
        tenant_id,
        1,
        kind=AssetKind.VIDEO,
        title="Harbour tour",
        duration_s=60.0,
        tags=["boats", "sea"],
        user_metadata={"camera": "A7", "year": 2024, "crew": ["ana"], "bad.key": 1},
    )
    poster = _asset(
        tenant_id, 2, kind=AssetKind.IMAGE, title="Poster", mime_type="image/png", tags=["sea"], language="en"
    )
    gone = _asset(
        tenant_id,
        3,
        kind=AssetKind.VIDEO,
        title="Gone lighthouse",
        status=AssetStatus.DELETED,
        deleted_at=T0 + timedelta(days=4),
        duration_s=5.0,
    )
    common = {"tenant_id": tenant_id, "created_at": T0 + timedelta(minutes=1)}
    graph = IndexGraph(harbour=harbour, poster=poster, gone=gone)
    graph.scenes = [
        Scene(
            asset_id=harbour.id,
            ordinal=0,
            start_s=0.0,
            end_s=30.0,
            model_name="sc",
            model_version="2",
            **common,
        ),
        Scene(
            asset_id=harbour.id,
            ordinal=1,
            start_s=30.0,
            end_s=60.0,
            model_name="sc",
            model_version="2",
            **common,
        ),
    ]
    # An older scene detection: superseded by version 2 (written later), so never indexed.
    graph.old_scene = Scene(
        asset_id=harbour.id,
        ordinal=0,
        start_s=0.0,
        end_s=60.0,
        model_name="sc",
        model_version="1",
        tenant_id=tenant_id,
        created_at=T0,
    )
    graph.poster_scene = Scene(
        asset_id=poster.id,
        ordinal=0,
        start_s=0.0,
        end_s=0.0,
        model_name="single",
        model_version="1",
        **common,
    )
    speech = {"model_name": "whisper", "model_version": "t1", "language": "en", **common}
    graph.segments = [
        TranscriptSegment(
            asset_id=harbour.id, ordinal=0, start_s=2.0, end_s=5.0, text="Welcome aboard the ferry", **speech
        ),
        # 0.5 s in the first shot, 1.0 s in the second: it belongs to the second only.
        TranscriptSegment(
            asset_id=harbour.id, ordinal=1, start_s=29.5, end_s=31.0, text="Crossing now", **speech
        ),
        TranscriptSegment(
            asset_id=harbour.id,
            ordinal=2,
            start_s=41.5,
            end_s=44.0,
            text="The lighthouse keeper waves",
            **speech,
        ),
    ]
    first, second = graph.scenes
    detections = [
        Detection(
            asset_id=harbour.id,
            scene_id=first.id,
            kind=DetectionKind.TEXT,
            time_s=15.0,
            label="CAPTAIN'S LOG",
            confidence=0.99,
            box_x=0.1,
            box_y=0.8,
            box_w=0.5,
            box_h=0.1,
            model_name="ocr",
            model_version="1",
            **common,
        ),
        Detection(
            asset_id=harbour.id,
            scene_id=first.id,
            kind=DetectionKind.LABEL,
            time_s=15.0,
            label="ocean liner",
            confidence=0.8,
            model_name="mobilenet",
            model_version="1",
            **common,
        ),
        *(
            Detection(
                asset_id=harbour.id,
                scene_id=second.id,
                kind=DetectionKind.FACE,
                time_s=45.0,
                label="face",
                confidence=0.9,
                box_x=0.1 * i,
                box_y=0.2,
                box_w=0.1,
                box_h=0.1,
                model_name="haar",
                model_version="1",
                **common,
            )
            for i in range(2)
        ),
        Detection(
            asset_id=poster.id,
            scene_id=graph.poster_scene.id,
            kind=DetectionKind.LABEL,
            time_s=0.0,
            label="beacon",
            confidence=0.7,
            model_name="mobilenet",
            model_version="1",
            **common,
        ),
    ]
    seg_welcome, seg_crossing, seg_keeper = graph.segments
    embeddings = [
        _emb(harbour, OwnerType.ASSET, harbour.id, Modality.TEXT, TEXT_MODEL, TITLE),
        _emb(harbour, OwnerType.SEGMENT, seg_welcome.id, Modality.TEXT, TEXT_MODEL, SEA),
        _emb(harbour, OwnerType.SEGMENT, seg_crossing.id, Modality.TEXT, TEXT_MODEL, SEA),
        _emb(harbour, OwnerType.SEGMENT, seg_keeper.id, Modality.TEXT, TEXT_MODEL, LIGHT),
        _emb(harbour, OwnerType.SCENE, first.id, Modality.TEXT, TEXT_MODEL, LOG),
        _emb(harbour, OwnerType.SCENE, first.id, Modality.IMAGE, VISUAL_MODEL, [1.0, 0.0, 0.0]),
        _emb(harbour, OwnerType.SCENE, second.id, Modality.IMAGE, VISUAL_MODEL, [0.0, 1.0, 0.0]),
        # Another text model's vector of the same segment: only a generation of that model takes it.
        _emb(harbour, OwnerType.SEGMENT, seg_keeper.id, Modality.TEXT, ("text-m", "2"), [0.0, 0.0, 0.0, 1.0]),
        _emb(poster, OwnerType.SCENE, graph.poster_scene.id, Modality.IMAGE, VISUAL_MODEL, [0.0, 0.0, 1.0]),
        _emb(gone, OwnerType.ASSET, gone.id, Modality.TEXT, TEXT_MODEL, LIGHT),
    ]
    async with factory() as session:
        session.add_all([harbour, poster, gone])
        await session.flush()
        session.add_all([*graph.scenes, graph.old_scene, graph.poster_scene])
        await session.flush()
        session.add_all([*graph.segments, *detections, *embeddings])
        await session.commit()
    return graph

"""A small, fully known media graph inserted through the ORM (the analysis stages that
normally write these rows are tested elsewhere)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api.ids import to_global_id
from app.assets.models import Asset
from app.audit.models import AuditEvent
from app.core.blobs import BlobStore
from app.core.enums import (
    AssetKind,
    AssetStatus,
    DetectionKind,
    JobStatus,
    OwnerType,
    SimilarityKind,
    StageStatus,
)
from app.jobs.models import Job, JobStage
from app.jobs.pipeline import MEDIA_PIPELINE, StageName
from app.media.models import Detection, Scene, SimilarityEdge, TranscriptSegment
from app.people.models import FaceTrack, Person

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KEYFRAME_BYTES = b"\xff\xd8\xff\xe0 fake jpeg bytes of the first keyframe"


def gid(type_name: str, row_id: uuid.UUID) -> str:
    """The global ID the API issues for a row."""
    return to_global_id(type_name, row_id)


@dataclass
class Graph:
    """Ids of the rows ``build_graph`` inserted."""

    harbour: Asset
    interview: Asset
    poster: Asset
    deleted: Asset
    scenes: list[Scene] = field(default_factory=list)
    poster_scene: Scene | None = None
    deleted_scene: Scene | None = None
    segments: list[TranscriptSegment] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    edges: list[SimilarityEdge] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    # Two people, each with one appearance (face track) in the harbour.
    people: list[Person] = field(default_factory=list)
    faces: list[FaceTrack] = field(default_factory=list)
    keyframe_key: str = ""


def _asset(tenant_id: uuid.UUID, n: int, **kw: object) -> Asset:
    values: dict[str, object] = {
        "tenant_id": tenant_id,
        "blob_key": f"sha256/{n:02d}/x",
        "content_sha256": f"{n:064x}",
        "mime_type": "video/mp4",
        "size_bytes": 1000 * n,
        "created_at": T0 + timedelta(minutes=n),
        "updated_at": T0 + timedelta(minutes=n),
    }
    values.update(kw)
    return Asset(**values)


def _stages(
    job: Job, statuses: Mapping[StageName, StageStatus] | Mapping[str, StageStatus]
) -> list[JobStage]:
    rows = []
    for ordinal, spec in enumerate(MEDIA_PIPELINE.stages):
        status = dict(statuses).get(spec.name, StageStatus.SKIPPED)
        rows.append(
            JobStage(
                job_id=job.id,
                tenant_id=job.tenant_id,
                name=spec.name,
                ordinal=ordinal,
                status=status,
                progress=1.0 if status == StageStatus.SUCCEEDED else 0.0,
                attempts=1 if status != StageStatus.SKIPPED else 0,
                skip_reason="not requested" if status == StageStatus.SKIPPED else None,
            )
        )
    return rows


async def build_graph(
    factory: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, blobs: BlobStore
) -> Graph:
    """Three live assets (video, audio, image), a deleted one, and what was learned about them."""
    keyframe = blobs.put_bytes(KEYFRAME_BYTES, suffix=".jpg")
    harbour = _asset(
        tenant_id,
        1,
        kind=AssetKind.VIDEO,
        status=AssetStatus.READY,
        title="Harbour at dawn",
        duration_s=12.0,
        width=1280,
        height=720,
        tags=["boats", "sea"],
        user_metadata={"camera": "A7"},
    )
    interview = _asset(
        tenant_id,
        2,
        kind=AssetKind.AUDIO,
        status=AssetStatus.PROCESSING,
        title="Interview",
        mime_type="audio/wav",
        duration_s=95.5,
    )
    poster = _asset(
        tenant_id,
        3,
        kind=AssetKind.IMAGE,
        status=AssetStatus.READY,
        title="Harbour poster",
        mime_type="image/png",
        width=800,
        height=600,
        tags=["sea"],
    )
    deleted = _asset(
        tenant_id,
        4,
        kind=AssetKind.VIDEO,
        status=AssetStatus.DELETED,
        title="Gone",
        deleted_at=T0,
        duration_s=3.0,
    )
    graph = Graph(
        harbour=harbour, interview=interview, poster=poster, deleted=deleted, keyframe_key=keyframe.key
    )
    common = {"tenant_id": tenant_id, "model_name": "test-model", "model_version": "1"}
    graph.scenes = [
        Scene(asset_id=harbour.id, ordinal=i, start_s=4.0 * i, end_s=4.0 * (i + 1), **common)
        for i in range(3)
    ]
    graph.scenes[0].keyframe_blob_key = keyframe.key
    graph.poster_scene = Scene(asset_id=poster.id, ordinal=0, start_s=0.0, end_s=0.0, **common)
    graph.deleted_scene = Scene(asset_id=deleted.id, ordinal=0, start_s=0.0, end_s=3.0, **common)
    graph.segments = [
        TranscriptSegment(
            asset_id=harbour.id,
            scene_id=graph.scenes[0].id,
            ordinal=0,
            start_s=0.5,
            end_s=3.5,
            text="The boats leave the harbour.",
            language="en",
            confidence=0.93,
            words=[
                {"word": "The", "start": 0.5, "end": 0.7, "probability": 0.99},
                {"word": "boats", "start": 0.7, "end": 1.2, "probability": 0.97},
                {"word": "leave", "start": 1.2, "end": 1.6, "probability": 0.95},
                {"word": "the", "start": 1.6, "end": 1.8, "probability": 0.99},
                {"word": "harbour.", "start": 1.8, "end": 3.5, "probability": 0.9},
            ],
            **common,
        ),
        # Spans the cut at 4.0 s: it belongs to the first two scenes.
        TranscriptSegment(
            asset_id=harbour.id,
            ordinal=1,
            start_s=3.8,
            end_s=5.0,
            text="Gulls follow them.",
            words=[],
            **common,
        ),
        TranscriptSegment(
            asset_id=harbour.id,
            ordinal=2,
            start_s=9.0,
            end_s=11.0,
            text="Back to the harbour at noon.",
            words=[],
            **common,
        ),
    ]
    graph.detections = [
        Detection(
            asset_id=harbour.id,
            scene_id=graph.scenes[0].id,
            kind=DetectionKind.LABEL,
            time_s=1.0,
            label="boat",
            confidence=0.91,
            box_x=0.1,
            box_y=0.2,
            box_w=0.3,
            box_h=0.4,
            **common,
        ),
        Detection(
            asset_id=harbour.id,
            scene_id=graph.scenes[0].id,
            kind=DetectionKind.FACE,
            time_s=2.0,
            label="face",
            confidence=0.42,
            **common,
        ),
        Detection(
            asset_id=harbour.id,
            scene_id=graph.scenes[1].id,
            kind=DetectionKind.TEXT,
            time_s=5.0,
            label="HARBOUR",
            confidence=0.88,
            **common,
        ),
    ]

    def edge(
        kind: SimilarityKind,
        score: float,
        a: Asset,
        b: Asset,
        sa: Scene | None = None,
        sb: Scene | None = None,
    ) -> SimilarityEdge:
        scene_level = sa is not None and sb is not None
        return SimilarityEdge(
            source_type=OwnerType.SCENE if scene_level else OwnerType.ASSET,
            source_id=sa.id if sa is not None and scene_level else a.id,
            source_asset_id=a.id,
            target_type=OwnerType.SCENE if scene_level else OwnerType.ASSET,
            target_id=sb.id if sb is not None and scene_level else b.id,
            target_asset_id=b.id,
            kind=kind,
            score=score,
            **common,
        )

    graph.edges = [
        edge(SimilarityKind.NEAR_DUPLICATE, 0.97, harbour, poster),
        # Stored with the harbour as *target*: similarity is read in both directions.
        edge(SimilarityKind.SEMANTIC, 0.71, interview, harbour),
        edge(SimilarityKind.SEMANTIC, 0.41, harbour, deleted),
        edge(SimilarityKind.VISUAL, 0.83, harbour, poster, graph.scenes[0], graph.poster_scene),
        # The best links of all lead to the deleted asset and its scene: they must never be
        # listed (nor take a place on a page).
        edge(SimilarityKind.VISUAL, 0.99, deleted, harbour),
        edge(SimilarityKind.VISUAL, 0.98, harbour, deleted, graph.scenes[0], graph.deleted_scene),
    ]
    done = {
        spec.name: StageStatus.SUCCEEDED for spec in MEDIA_PIPELINE.stages if AssetKind.VIDEO in spec.kinds
    }
    graph.jobs["harbour"] = Job(
        tenant_id=tenant_id,
        asset_id=harbour.id,
        pipeline="media",
        status=JobStatus.SUCCEEDED,
        progress=1.0,
        attempts=1,
        created_at=T0 + timedelta(minutes=10),
        updated_at=T0 + timedelta(minutes=10),
    )
    # An earlier run over the harbour, cancelled before it started.
    graph.jobs["harbour_cancelled"] = Job(
        tenant_id=tenant_id,
        asset_id=harbour.id,
        pipeline="media",
        status=JobStatus.CANCELLED,
        progress=0.0,
        attempts=0,
        created_at=T0 + timedelta(minutes=9),
        updated_at=T0 + timedelta(minutes=9),
    )
    graph.jobs["interview"] = Job(
        tenant_id=tenant_id,
        asset_id=interview.id,
        pipeline="media",
        status=JobStatus.RUNNING,
        progress=0.5,
        current_stage="transcribe",
        attempts=1,
        created_at=T0 + timedelta(minutes=11),
        updated_at=T0 + timedelta(minutes=11),
    )
    graph.jobs["poster"] = Job(
        tenant_id=tenant_id,
        asset_id=poster.id,
        pipeline="media",
        status=JobStatus.FAILED,
        progress=0.25,
        current_stage="ocr",
        error_code="CORRUPT_MEDIA",
        error_message="cannot decode",
        attempts=1,
        created_at=T0 + timedelta(minutes=12),
        updated_at=T0 + timedelta(minutes=12),
    )
    stage_rows = _stages(graph.jobs["harbour"], done)
    stage_rows += _stages(
        graph.jobs["interview"],
        {
            "probe": StageStatus.SUCCEEDED,
            "scenes": StageStatus.SUCCEEDED,
            "transcribe": StageStatus.RUNNING,
            "embed": StageStatus.PENDING,
            "similarity": StageStatus.PENDING,
            "index": StageStatus.PENDING,
        },
    )
    failed = _stages(
        graph.jobs["poster"],
        {
            "probe": StageStatus.SUCCEEDED,
            "scenes": StageStatus.SUCCEEDED,
            "ocr": StageStatus.FAILED,
            "detect": StageStatus.SUCCEEDED,
            "embed": StageStatus.PENDING,
            "similarity": StageStatus.PENDING,
            "index": StageStatus.PENDING,
        },
    )
    for row in failed:
        if row.name == "ocr":
            row.error_code = "CORRUPT_MEDIA"
    stage_rows += failed
    graph.audit = [
        AuditEvent(
            tenant_id=tenant_id,
            actor="editor@example.org",
            action="job.cancel",
            entity_type="job",
            entity_id=graph.jobs["harbour_cancelled"].id,
            details={"status": "cancelled"},
            occurred_at=T0 + timedelta(minutes=9, seconds=30),
        ),
        AuditEvent(
            tenant_id=tenant_id,
            actor="editor@example.org",
            action="asset.update",
            entity_type="asset",
            entity_id=harbour.id,
            details={"changed": ["tags"]},
            occurred_at=T0 + timedelta(minutes=20),
        ),
    ]
    async with factory() as session:
        session.add_all([harbour, interview, poster, deleted])
        await session.flush()
        session.add_all([*graph.scenes, graph.poster_scene, graph.deleted_scene])
        await session.flush()
        session.add_all(
            [*graph.segments, *graph.detections, *graph.edges, *graph.jobs.values(), *graph.audit]
        )
        await session.flush()
        session.add_all(stage_rows)
        graph.people = [Person(tenant_id=tenant_id, name="Ada"), Person(tenant_id=tenant_id)]
        session.add_all(graph.people)
        await session.flush()
        graph.faces = [
            FaceTrack(
                asset_id=harbour.id,
                scene_id=graph.scenes[i].id,
                person_id=person.id,
                start_s=4.0 * i,
                end_s=4.0 * i + 3.0,
                box_x=0.1,
                box_y=0.1,
                box_w=0.2,
                box_h=0.3,
                descriptor=bytes(4 * 128),
                **common,
            )
            for i, person in enumerate(graph.people)
        ]
        session.add_all(graph.faces)
        await session.commit()
    return graph

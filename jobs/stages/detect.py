"""The detect stage: ImageNet labels and frontal faces of keyframes (video) and images, and
the asset's face tracks clustered into people.

Writes Detection rows with the scene and the scene's start time:
- kind=label: up to ``TOP_K`` ImageNet classes per frame (MobileNetV2 softmax probability as
  confidence), whole-frame (no box);
- kind=face: one per face the "faces" model finds on the keyframe, box normalised to the
  frame, the detector's monotone score as confidence.
Both keep only detections at or above ``settings.detection_min_confidence``. Shots and images
with a face on their keyframe then get face tracks (``jobs.stages.faces``), which replace the
asset's earlier tracks and join the tenant's people (``app.people.service``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.enums import DetectionKind
from app.jobs.pipeline import StageName
from app.media.service import replace_detections
from app.people.service import NewTrack, replace_asset_faces
from inference.preprocess import RGBImage
from inference.registry import ModelRef
from inference.types import Faces, Labels
from jobs.registry import StageContext, StageOutput, StageRegistry
from jobs.stages.common import SceneRef, frame_of, load_scenes, permanent_errors, router_of
from jobs.stages.faces import KeyframeFaces, face_tracks

# Labels kept per frame before the confidence floor: past five, ImageNet's 1000 classes are
# mostly near-synonyms of the first ones (tabby, tiger cat, Egyptian cat).
TOP_K = 5
# Frames decoded and analysed at once (memory bound; the router batches the label calls).
CHUNK = 8


def label_rows(scene: SceneRef, labels: Labels) -> list[dict[str, Any]]:
    """Detection values of one frame's labels."""
    return [
        {
            "kind": DetectionKind.LABEL,
            "scene_id": scene.id,
            "time_s": scene.start_s,
            "label": label.name,
            "confidence": round(label.score, 4),
        }
        for label in labels.labels
    ]


def face_rows(scene: SceneRef, faces: Faces, width: int, height: int) -> list[dict[str, Any]]:
    """Detection values of one frame's faces, boxes normalised to the frame."""
    return [
        {
            "kind": DetectionKind.FACE,
            "scene_id": scene.id,
            "time_s": scene.start_s,
            "label": "face",
            "confidence": round(face.score, 4),
            "box_x": round(face.x / width, 5),
            "box_y": round(face.y / height, 5),
            "box_w": round(face.width / width, 5),
            "box_h": round(face.height / height, 5),
        }
        for face in faces.faces
    ]


async def run_detect(ctx: StageContext) -> StageOutput:
    """Label frames and find faces; replace the asset's label and face detections."""
    await ctx.report_progress(0.0)
    router = await router_of(ctx)
    floor = ctx.settings.detection_min_confidence
    scenes = await load_scenes(ctx)
    label_model: ModelRef = router.model_for("labels").ref
    face_model: ModelRef = router.model_for("faces").ref
    descriptor_model: ModelRef = router.model_for("face_descriptors").ref
    labels: list[dict[str, Any]] = []
    faces: list[dict[str, Any]] = []
    tracks: list[NewTrack] = []
    for start in range(0, len(scenes), CHUNK):
        chunk = scenes[start : start + CHUNK]
        frames = await asyncio.gather(*(frame_of(ctx, s) for s in chunk))
        pairs: list[tuple[SceneRef, RGBImage]] = [
            (s, f) for s, f in zip(chunk, frames, strict=True) if f is not None
        ]
        if pairs:
            with permanent_errors("labelling frames"):
                found = await router.labels([f for _, f in pairs], top_k=TOP_K, min_score=floor)
                found_faces = await asyncio.gather(*(router.faces(f, min_score=floor) for _, f in pairs))
            for (scene, frame), frame_labels, frame_faces in zip(pairs, found, found_faces, strict=True):
                labels += label_rows(scene, frame_labels)
                faces += face_rows(scene, frame_faces, int(frame.shape[1]), int(frame.shape[0]))
                label_model, face_model = frame_labels.model, frame_faces.model
            keyframes = [KeyframeFaces(s, f, ff) for (s, f), ff in zip(pairs, found_faces, strict=True)]
            chunk_tracks, used = await face_tracks(ctx, router, keyframes, min_score=floor)
            tracks += chunk_tracks
            descriptor_model = used or descriptor_model
        await ctx.report_progress(min(len(scenes), start + CHUNK) / len(scenes))
    tenant_id, asset_id = ctx.asset.tenant_id, ctx.asset.id

    async def write(session: AsyncSession) -> None:
        for kind, model, rows in (
            (DetectionKind.LABEL, label_model, labels),
            (DetectionKind.FACE, face_model, faces),
        ):
            await replace_detections(
                session,
                tenant_id=tenant_id,
                asset_id=asset_id,
                kinds=[kind],
                model_name=model.name,
                model_version=model.version,
                detections=rows,
            )
        await replace_asset_faces(
            session,
            tenant_id=tenant_id,
            asset_id=asset_id,
            model_name=descriptor_model.name,
            model_version=descriptor_model.version,
            tracks=tracks,
        )

    ctx.kept(label_model, [row["confidence"] for row in labels])
    ctx.kept(face_model, [row["confidence"] for row in faces])
    return StageOutput(
        write=write,
        model_versions={
            label_model.name: label_model.version,
            face_model.name: face_model.version,
            descriptor_model.name: descriptor_model.version,
        },
    )


def register_stages(registry: StageRegistry) -> None:
    """Register the detect stage."""
    registry.register(StageName.DETECT, run_detect, max_retries=3)

"""The embed stage: vectors of everything the earlier stages found, for search and similarity.

Writes Embedding rows (float32, L2-normalised):

| modality | model | owner | embeds |
|---|---|---|---|
| text | MiniLM (384-d) | asset | its title |
| text | MiniLM | segment | a transcript segment, or a chunk of a text asset |
| text | MiniLM | scene | the scene in words: OCR lines, label names, people (``jobs.scene_text``) |
| image | MobileNetV2 features (1280-d) | scene | the keyframe (the image itself for image assets) |
| image | MobileNetV2 features | asset | duration-weighted mean of its scene vectors, renormalised |
| bridge | ImageNet bridge (384-d, MiniLM space) | scene, asset | as image: text-to-image search |
| bridge | CLIP image (if ``clip_model_dir`` is set) | scene, asset | as image, CLIP space (``clip`` field) |

Upstream rows are read from the latest model version each upstream stage wrote (segments,
and each detection kind), and scenes from the current scene model.

Re-processing unchanged content costs no model call: every row stores the sha256 of what it
embedded (``content_sha256``: the text, or the keyframe's blob sha), and a vector already
stored for the same content and model version is reused. Within a process the router's
embedding cache does the same for content repeated across assets.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.enums import AssetKind, DetectionKind, Modality, OwnerType
from app.jobs.errors import TransientStageError
from app.jobs.pipeline import StageName
from app.media import stage_repository
from app.media.models import Detection
from app.media.service import replace_embeddings, vector_from_bytes
from inference.cache import content_hash
from inference.preprocess import RGBImage
from inference.registry import ModelRef, Task
from inference.router import InferenceRouter
from jobs.registry import StageContext, StageOutput, StageRegistry
from jobs.scene_text import scene_text
from jobs.stages.common import (
    SceneRef,
    frame_of,
    frame_source,
    link_segments,
    load_scenes,
    permanent_errors,
    router_of,
)

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
MODEL_CHANGED = "MODEL_CHANGED"
# Texts per model call group (progress is reported between groups; the router splits them
# further into the model's batch size).
TEXT_GROUP = 256
FRAME_GROUP = 16


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to embed: its owner, and the sha256 of its content."""

    owner_type: OwnerType
    owner_id: uuid.UUID
    sha: str


@dataclass(slots=True)
class EmbedStats:
    """What one run computed and what it reused (logged)."""

    computed: int = 0
    reused: int = 0


Stored = dict[tuple[Modality, str, str, str], FloatArray]


async def stored_vectors(ctx: StageContext) -> Stored:
    """The asset's stored vectors by (modality, model name, version, content sha256)."""
    async with ctx.session_factory() as session:
        rows = await stage_repository.content_vectors(session, asset_id=ctx.asset.id)
    return {(m, n, v, sha): vector_from_bytes(vec) for m, n, v, sha, vec in rows if sha}


async def text_items(ctx: StageContext, scenes: list[SceneRef]) -> list[tuple[Item, str]]:
    """(item, text) of the title, the segments and each scene in words (``jobs.scene_text``)."""
    items: list[tuple[Item, str]] = []

    def add(owner_type: OwnerType, owner_id: uuid.UUID, text: str) -> None:
        text = text.strip()
        if text:
            items.append((Item(owner_type, owner_id, content_hash(text)), text))

    add(OwnerType.ASSET, ctx.asset.id, ctx.asset.title)
    scene_ids = {s.id for s in scenes}
    async with ctx.session_factory() as session:
        segments = await stage_repository.latest_segments(session, asset_id=ctx.asset.id)
        # Per kind: OCR and detect are separate stages, each on its own model version.
        detections = [
            d
            for kind in DetectionKind
            for d in await stage_repository.latest_detections(session, asset_id=ctx.asset.id, kind=kind)
        ]
    for segment in sorted(segments, key=lambda s: (s.start_s, s.ordinal)):
        add(OwnerType.SEGMENT, segment.id, segment.text)
    by_scene: dict[uuid.UUID, list[Detection]] = defaultdict(list)
    for detection in detections:
        if detection.scene_id in scene_ids:
            by_scene[detection.scene_id].append(detection)
    for scene in scenes:
        add(OwnerType.SCENE, scene.id, scene_text(by_scene.get(scene.id, [])))
    return items


def asset_vector(
    scenes: Sequence[SceneRef], vectors: dict[uuid.UUID, FloatArray]
) -> tuple[FloatArray, str] | None:
    """The asset's vector from its scenes' (weighted by duration; equal weights when every
    scene is an instant) and a sha256 of what went into it."""
    present = [s for s in scenes if s.id in vectors]
    if not present:
        return None
    weights = np.array([s.duration for s in present], dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones(len(present))
    mixed = np.sum([w * vectors[s.id] for w, s in zip(weights, present, strict=True)], axis=0)
    norm = float(np.linalg.norm(mixed))
    if norm == 0:
        return None
    digest = hashlib.sha256()
    for weight, scene in zip(weights, present, strict=True):
        digest.update(vectors[scene.id].tobytes())
        digest.update(f"{weight:.6f}".encode())
    return (mixed / norm).astype(np.float32), digest.hexdigest()


class Embedder:
    """Fills vectors for items, from storage when the content is unchanged, else from a model."""

    def __init__(self, ctx: StageContext, stored: Stored, stats: EmbedStats) -> None:
        self.ctx = ctx
        self.stored = stored
        self.stats = stats

    def reuse(self, modality: Modality, model: ModelRef, items: Sequence[Item]) -> list[FloatArray | None]:
        """Stored vectors of ``items`` (None where the content is new)."""
        found = [self.stored.get((modality, model.name, model.version, item.sha)) for item in items]
        self.stats.reused += sum(v is not None for v in found)
        return found

    async def texts(
        self,
        modality: Modality,
        model: ModelRef,
        pairs: Sequence[tuple[Item, str]],
        embed: Callable[[list[str]], Awaitable[tuple[FloatArray, ModelRef]]],
    ) -> tuple[list[tuple[Item, FloatArray]], ModelRef]:
        """Vectors of (item, text) pairs."""
        found = self.reuse(modality, model, [item for item, _ in pairs])
        todo = [i for i, v in enumerate(found) if v is None]
        for start in range(0, len(todo), TEXT_GROUP):
            group = todo[start : start + TEXT_GROUP]
            vectors, used = await embed([pairs[i][1] for i in group])
            model = same_model(model, used)
            self.stats.computed += len(group)
            for i, vector in zip(group, vectors, strict=True):
                found[i] = vector
            await self.ctx.report_progress(0.1 + 0.4 * (start + len(group)) / len(todo))
        return [(item, v) for (item, _), v in zip(pairs, found, strict=True) if v is not None], model

    async def frames(
        self,
        modality: Modality,
        model: ModelRef,
        scenes: Sequence[SceneRef],
        embed: Callable[[list[RGBImage]], Awaitable[tuple[FloatArray, ModelRef]]],
        progress: tuple[float, float],
    ) -> tuple[list[tuple[Item, FloatArray]], ModelRef]:
        """Vectors of the scenes' frames (scenes without a frame are left out)."""
        items: list[Item] = []
        with_frames: list[SceneRef] = []
        for scene in scenes:
            source = frame_source(self.ctx, scene)
            if source is not None:
                items.append(Item(OwnerType.SCENE, scene.id, source[1]))
                with_frames.append(scene)
        found = self.reuse(modality, model, items)
        todo = [i for i, v in enumerate(found) if v is None]
        low, high = progress
        for start in range(0, len(todo), FRAME_GROUP):
            group = todo[start : start + FRAME_GROUP]
            images = [await frame_of(self.ctx, with_frames[i]) for i in group]
            vectors, used = await embed([image for image in images if image is not None])
            model = same_model(model, used)
            self.stats.computed += len(group)
            for i, vector in zip(group, vectors, strict=True):
                found[i] = vector
            await self.ctx.report_progress(low + (high - low) * (start + len(group)) / len(todo))
        return [(item, v) for item, v in zip(items, found, strict=True) if v is not None], model


def same_model(expected: ModelRef, used: ModelRef) -> ModelRef:
    """``used``, which must be ``expected``: stored vectors of ``expected`` are reused beside
    computed ones, and one replace call stamps them all with one model."""
    if used != expected:
        # The router substituted a model (Triton down): retry once it serves the configured one.
        raise TransientStageError(MODEL_CHANGED, f"{expected} was asked for, {used} answered")
    return used


def _vectors_call(
    method: Callable[[list[Any]], Awaitable[Any]],
) -> Callable[[list[Any]], Awaitable[tuple[FloatArray, ModelRef]]]:
    async def call(inputs: list[Any]) -> tuple[FloatArray, ModelRef]:
        result = await method(inputs)
        return result.vectors, result.model

    return call


async def run_embed(ctx: StageContext) -> StageOutput:
    """Embed the asset's texts and frames; replace its vectors of the current models."""
    await ctx.report_progress(0.0)
    router: InferenceRouter = await router_of(ctx)
    scenes = [] if ctx.asset.kind == AssetKind.TEXT else await load_scenes(ctx)
    stored = await stored_vectors(ctx)
    stats = EmbedStats()
    embedder = Embedder(ctx, stored, stats)
    texts = await text_items(ctx, scenes)
    await ctx.report_progress(0.1)
    # (modality, model, [(item, vector)]) per replace_embeddings call.
    outputs: list[tuple[Modality, ModelRef, list[tuple[Item, FloatArray]]]] = []
    with permanent_errors("embedding"):
        text_vectors, text_model = await embedder.texts(
            Modality.TEXT, router.model_for("embed_text").ref, texts, _vectors_call(router.embed_text)
        )
        outputs.append((Modality.TEXT, text_model, text_vectors))
        visual: list[tuple[Modality, Task, Callable[[list[Any]], Awaitable[Any]]]] = []
        if ctx.asset.kind in (AssetKind.VIDEO, AssetKind.IMAGE):
            visual = [
                (Modality.IMAGE, "embed_image", router.embed_image),
                (Modality.BRIDGE, "embed_bridge", router.embed_bridge),
            ]
            if ctx.settings.clip_model_dir is not None:
                # CLIP image vectors live in CLIP's text-image space: like the bridge, they
                # answer text queries (embedded with embed_text_clip), hence modality bridge.
                visual.append((Modality.BRIDGE, "embed_image_clip", router.embed_image_clip))
        for index, (modality, task, method) in enumerate(visual):
            span = 0.5 / len(visual)
            scene_vectors, model = await embedder.frames(
                modality,
                router.model_for(task).ref,
                scenes,
                _vectors_call(method),
                (0.5 + index * span, 0.5 + (index + 1) * span),
            )
            whole = asset_vector(scenes, {item.owner_id: v for item, v in scene_vectors})
            if whole is not None:
                scene_vectors.append((Item(OwnerType.ASSET, ctx.asset.id, whole[1]), whole[0]))
            outputs.append((modality, model, scene_vectors))
    await ctx.report_progress(1.0)
    tenant_id, asset_id = ctx.asset.tenant_id, ctx.asset.id

    kind = ctx.asset.kind

    async def write(session: AsyncSession) -> None:
        if kind != AssetKind.TEXT:
            # Transcribe ran beside scenes: the segments it wrote first get their scenes here.
            await link_segments(session, kind=kind, asset_id=asset_id)
        for modality, model, pairs in outputs:
            await replace_embeddings(
                session,
                tenant_id=tenant_id,
                asset_id=asset_id,
                modality=modality,
                model_name=model.name,
                model_version=model.version,
                embeddings=[(item.owner_type, item.owner_id, vector, item.sha) for item, vector in pairs],
            )

    log.info(
        "embed %s: %d vectors computed, %d reused from unchanged content",
        ctx.asset.id,
        stats.computed,
        stats.reused,
    )
    return StageOutput(write=write, model_versions={m.name: m.version for _, m, _ in outputs})


def register_stages(registry: StageRegistry) -> None:
    """Register the embed stage."""
    registry.register(StageName.EMBED, run_embed, max_retries=3)

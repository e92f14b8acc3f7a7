"""The similarity stage: which assets are near-duplicates, which scenes look or mean alike.

Writes SimilarityEdge rows, ONE per pair (the API reads both directions): an edge's source is
the end whose id sorts first, so two assets processed at the same time insert the same row
and the unique constraint turns the race into a retry instead of a duplicate. A run replaces
every edge of its kinds and models that touches the asset, whichever end it was stored from.

- near_duplicate, asset to asset, same kind:
  - audio: Chromaprint fingerprints, length-aware (jobs/stages/audio_similarity.py);
  - images: score = mean of the visual cosine (MobileNetV2 features) and the pHash similarity
    (1 - Hamming distance / 64); an edge at or above ``image_near_duplicate_threshold``. The
    two fail differently (downscaling lowers the cosine, crops move the hash), the mean
    tolerates either alone; measured on the sample photos, copies score 0.85-0.98, different
    photos at most 0.56.
  - videos, length-aware: both videos are laid on a time grid (``GRID_SECONDS``), each slot
    holding the visual vector of the scene shown then; a slot pair counts with its cosine when
    that is at or above ``near_duplicate_threshold``, else 0. The score is the best sum over
    shifts of up to ``MAX_SHIFT_SECONDS`` (a trimmed lead-in) divided by the slots of the LONGER
    video: two videos that share a 1 s opening and nothing else match 1 s of 7 s. An edge at or
    above ``near_duplicate_threshold``. pHash is not used for video: frames with little
    texture (title cards, flat colour) hash alike whatever their colour.
- visual, scene to scene: keyframe cosine at or above ``visual_similarity_threshold``;
- semantic, scene to scene: each scene's meaning in MiniLM space, the normalised mean of the
  vectors of what it shows (the ImageNet bridge vector), what is written on it (its OCR
  vector) and what is said during it (vectors of the overlapping transcript segments); an edge
  at or above ``semantic_similarity_threshold``. Text assets get asset-to-asset semantic edges
  from the mean of their chunk vectors.
Scene edges keep the ``similarity_max_edges`` best per scene of this asset and kind.

Candidates are every live asset of the tenant, scanned exactly from the database (a matrix
product per kind), below ``MEDIAKG_SIMILARITY_INDEX_ABOVE`` scenes (20 000); from there on they
come from the live search index's kNN, plus the assets with a job in flight, and only their
vectors are read and scored (jobs/stages/similarity_candidates.py). Audio fingerprints are always
scanned (they are not in the index).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.enums import AssetKind, Modality, OwnerType, SimilarityKind
from app.jobs.pipeline import StageName
from app.media import stage_repository
from app.media.service import replace_asset_edges, vector_from_bytes
from inference.media import hash_distance
from inference.registry import ModelRef
from jobs.registry import StageContext, StageOutput, StageRegistry
from jobs.stages import similarity_candidates as candidates
from jobs.stages.audio_similarity import MODEL_NAME as AUDIO_MODEL
from jobs.stages.audio_similarity import audio_output, write_audio
from jobs.stages.common import permanent_errors, router_of
from search.documents import DocType, VectorField

FloatArray = npt.NDArray[np.float32]

GRID_SECONDS = 0.25
# A long video is laid on at most this many slots (the grid coarsens instead).
MAX_SLOTS = 4000
MAX_SHIFT_SECONDS = 2.0
HASH_BITS = 64
# Versions of the scoring rules, appended to the vector model's version on every edge.
NEAR_DUPLICATE_RULES = "nd1"
VISUAL_RULES = "vis1"
SEMANTIC_RULES = "sem1"


@dataclass(frozen=True, slots=True)
class SceneVec:
    """A scene of some asset with its vector (and what else a rule needs)."""

    scene_id: uuid.UUID
    asset_id: uuid.UUID
    kind: AssetKind
    start_s: float
    end_s: float
    vector: FloatArray
    phash: str | None = None


# --- scoring rules (pure) -------------------------------------------------------------------


def image_score(cosine: float, distance: int) -> float:
    """Near-duplicate score of two images from their visual cosine and pHash distance."""
    return (cosine + (1.0 - distance / HASH_BITS)) / 2.0


@dataclass(frozen=True, slots=True)
class Alignment:
    """How two videos line up."""

    score: float
    matched_s: float
    shift_s: float


def _slots(scenes: Sequence[SceneVec], step: float, count: int) -> npt.NDArray[np.int64]:
    """Per grid slot, the index of the scene shown at its middle (-1: none)."""
    index = np.full(count, -1, dtype=np.int64)
    origin = min(s.start_s for s in scenes)
    middles = origin + (np.arange(count) + 0.5) * step
    for i, scene in enumerate(scenes):
        index[(middles >= scene.start_s) & (middles < scene.end_s)] = i
    return index


def video_alignment(a: Sequence[SceneVec], b: Sequence[SceneVec], threshold: float) -> Alignment:
    """Length-aware near-duplicate score of two videos (see the module docstring)."""
    if not a or not b:
        return Alignment(0.0, 0.0, 0.0)
    length_a = max(s.end_s for s in a) - min(s.start_s for s in a)
    length_b = max(s.end_s for s in b) - min(s.start_s for s in b)
    longest = max(length_a, length_b)
    if longest <= 0:
        return Alignment(0.0, 0.0, 0.0)
    step = max(GRID_SECONDS, longest / MAX_SLOTS)
    count = math.ceil(longest / step)
    slots_a, slots_b = _slots(a, step, count), _slots(b, step, count)
    sims = np.stack([s.vector for s in a]) @ np.stack([s.vector for s in b]).T
    matched = np.where(sims >= threshold, sims, 0.0)
    best = Alignment(0.0, 0.0, 0.0)
    max_shift = round(MAX_SHIFT_SECONDS / step)
    for shift in range(-max_shift, max_shift + 1):
        # Slot k of a against slot k + shift of b.
        ka = np.arange(max(0, -shift), min(count, count - shift))
        ia, ib = slots_a[ka], slots_b[ka + shift]
        valid = (ia >= 0) & (ib >= 0)
        values = matched[ia[valid], ib[valid]]
        total = float(values.sum())
        if total / count > best.score:
            best = Alignment(total / count, float((values > 0).sum() * step), shift * step)
    return best


def top_pairs(
    mine: Sequence[SceneVec], candidates: Sequence[SceneVec], threshold: float, limit: int
) -> list[tuple[SceneVec, SceneVec, float]]:
    """For each of ``mine``, its best ``limit`` candidates (not itself) at or above ``threshold``."""
    if not mine or not candidates:
        return []
    sims = np.stack([s.vector for s in mine]) @ np.stack([c.vector for c in candidates]).T
    pairs = []
    for i, scene in enumerate(mine):
        order = np.argsort(-sims[i], kind="stable")
        kept = 0
        for j in order:
            score = float(sims[i, j])
            if score < threshold or kept >= limit:
                break
            if candidates[j].scene_id == scene.scene_id:
                continue
            pairs.append((scene, candidates[j], score))
            kept += 1
    return pairs


def edge(
    a: tuple[OwnerType, uuid.UUID, uuid.UUID],
    b: tuple[OwnerType, uuid.UUID, uuid.UUID],
    kind: SimilarityKind,
    score: float,
    details: dict[str, Any],
) -> dict[str, Any]:
    """SimilarityEdge values of the pair {a, b} ((owner type, owner id, asset id) each), the
    end whose id sorts first as source: one row per pair, whoever computes it."""
    source, target = (a, b) if str(a[1]) <= str(b[1]) else (b, a)
    return {
        "source_type": source[0],
        "source_id": source[1],
        "source_asset_id": source[2],
        "target_type": target[0],
        "target_id": target[1],
        "target_asset_id": target[2],
        "kind": kind,
        "score": round(min(1.0, max(0.0, score)), 6),
        "details": details,
    }


def unique_edges(edges: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One edge per (source, target, kind), keeping the best score (a pair inside the asset is
    found from both of its scenes)."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for item in edges:
        key = (item["source_id"], item["target_id"], item["kind"])
        if key not in best or item["score"] > best[key]["score"]:
            best[key] = item
    return list(best.values())


def normalised(vector: FloatArray) -> FloatArray | None:
    """``vector`` scaled to unit length (None for the zero vector)."""
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else None


# --- loading ---------------------------------------------------------------------------------


async def scene_vectors(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    modality: Modality,
    model: ModelRef,
    asset_ids: Collection[uuid.UUID] | None = None,
) -> list[SceneVec]:
    """Every live scene vector of the tenant (of ``asset_ids``, when given) in ``modality`` from
    ``model``."""
    rows = await stage_repository.live_scene_vectors(
        session,
        tenant_id=tenant_id,
        modality=modality,
        model_name=model.name,
        model_version=model.version,
        asset_ids=asset_ids,
    )
    return [
        SceneVec(sid, aid, kind, start, end, vector_from_bytes(vec), phash)
        for sid, aid, kind, start, end, vec, phash in rows
    ]


async def semantic_scene_vectors(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    text_model: ModelRef,
    bridge_model: ModelRef,
    asset_ids: Collection[uuid.UUID] | None = None,
) -> list[SceneVec]:
    """Every live scene's (of ``asset_ids``, when given) meaning vector (see the module docstring)."""
    parts: dict[uuid.UUID, list[FloatArray]] = defaultdict(list)
    for modality, model in ((Modality.BRIDGE, bridge_model), (Modality.TEXT, text_model)):
        for scene in await scene_vectors(session, tenant_id, modality, model, asset_ids):
            parts[scene.scene_id].append(scene.vector)
    scenes = await stage_repository.live_timed_scenes(session, tenant_id=tenant_id, asset_ids=asset_ids)
    by_asset: dict[uuid.UUID, list[tuple[uuid.UUID, AssetKind, float, float]]] = defaultdict(list)
    for sid, aid, kind, start, end in scenes:
        by_asset[aid].append((sid, kind, start, end))
    segments = await stage_repository.live_segment_vectors(
        session,
        tenant_id=tenant_id,
        model_name=text_model.name,
        model_version=text_model.version,
        asset_ids=asset_ids,
    )
    for aid, seg_start, seg_end, vec in segments:
        for sid, _, start, end in by_asset.get(aid, []):
            if min(seg_end, end) - max(seg_start, start) > 0:
                parts[sid].append(vector_from_bytes(vec))
    out = []
    for aid, rows in by_asset.items():
        for sid, kind, start, end in rows:
            if parts.get(sid):
                vector = normalised(np.mean(parts[sid], axis=0).astype(np.float32))
                if vector is not None:
                    out.append(SceneVec(sid, aid, kind, start, end, vector))
    return out


async def document_vectors(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    text_model: ModelRef,
    asset_ids: Collection[uuid.UUID] | None = None,
) -> list[SceneVec]:
    """Per live text asset (of ``asset_ids``, when given), the mean of its chunk vectors (as a
    SceneVec whose scene is the asset)."""
    rows = await stage_repository.live_chunk_vectors(
        session,
        tenant_id=tenant_id,
        model_name=text_model.name,
        model_version=text_model.version,
        asset_ids=asset_ids,
    )
    chunks: dict[uuid.UUID, list[FloatArray]] = defaultdict(list)
    for aid, vec in rows:
        chunks[aid].append(vector_from_bytes(vec))
    out = []
    for aid, vectors in chunks.items():
        vector = normalised(np.mean(vectors, axis=0).astype(np.float32))
        if vector is not None:
            out.append(SceneVec(aid, aid, AssetKind.TEXT, 0.0, 0.0, vector))
    return out


# --- the stage -------------------------------------------------------------------------------


def near_duplicate_edges(
    asset_id: uuid.UUID,
    kind: AssetKind,
    visual: Sequence[SceneVec],
    *,
    video_threshold: float,
    image_threshold: float,
) -> list[dict[str, Any]]:
    """Near-duplicate edges between the asset and other assets of its kind."""
    by_asset: dict[uuid.UUID, list[SceneVec]] = defaultdict(list)
    for scene in visual:
        if scene.kind == kind:
            by_asset[scene.asset_id].append(scene)
    mine = by_asset.pop(asset_id, [])
    edges = []
    for other_id, theirs in by_asset.items():
        if not mine or not theirs:
            continue
        details: dict[str, Any]
        if kind == AssetKind.IMAGE:
            a, b = mine[0], theirs[0]
            if a.phash is None or b.phash is None:
                continue
            cosine = float(a.vector @ b.vector)
            distance = hash_distance(a.phash, b.phash)
            score = image_score(cosine, distance)
            details = {"cosine": round(cosine, 4), "phash_distance": distance}
            if score < image_threshold:
                continue
        else:
            length = max(s.end_s for s in mine) - min(s.start_s for s in mine)
            other = max(s.end_s for s in theirs) - min(s.start_s for s in theirs)
            # The score cannot exceed the length ratio: skip pairs that could never qualify.
            if min(length, other) < video_threshold * max(length, other):
                continue
            alignment = video_alignment(mine, theirs, video_threshold)
            score = alignment.score
            details = {
                "matched_s": round(alignment.matched_s, 3),
                "shift_s": round(alignment.shift_s, 3),
                "duration_s": [round(length, 3), round(other, 3)],
            }
            if score < video_threshold:
                continue
        edges.append(
            edge(
                (OwnerType.ASSET, asset_id, asset_id),
                (OwnerType.ASSET, other_id, other_id),
                SimilarityKind.NEAR_DUPLICATE,
                score,
                details,
            )
        )
    return edges


def scene_edges(
    asset_id: uuid.UUID,
    vectors: Sequence[SceneVec],
    kind: SimilarityKind,
    threshold: float,
    limit: int,
    owner: OwnerType = OwnerType.SCENE,
) -> list[dict[str, Any]]:
    """Edges of ``kind`` from the asset's scenes to every scene (its own included); ``owner``
    ASSET when the vectors stand for whole assets (text documents)."""
    mine = [s for s in vectors if s.asset_id == asset_id]
    return unique_edges(
        edge((owner, a.scene_id, a.asset_id), (owner, b.scene_id, b.asset_id), kind, score, {})
        for a, b, score in top_pairs(mine, vectors, threshold, limit)
    )


Output = tuple[SimilarityKind, str, str, list[dict[str, Any]]]


async def _visual_outputs(
    ctx: StageContext, session: AsyncSession, model: ModelRef, from_index: bool
) -> list[Output]:
    """Near-duplicate and look-alike edges of an image or video, from its keyframe vectors
    (``from_index``: compared with the assets the index finds, see similarity_candidates)."""
    settings, asset_id, tenant_id = ctx.settings, ctx.asset.id, ctx.asset.tenant_id
    compared = None
    if from_index:
        mine = await scene_vectors(session, tenant_id, Modality.IMAGE, model, {asset_id})
        found = await candidates.candidate_assets(ctx, VectorField.VISUAL, model, [s.vector for s in mine])
        compared = await candidates.compared_assets(ctx, session, [found])
    visual = await scene_vectors(session, tenant_id, Modality.IMAGE, model, compared)
    await ctx.report_progress(0.3)
    near = await ctx.run_sync(
        near_duplicate_edges,
        asset_id,
        ctx.asset.kind,
        visual,
        video_threshold=settings.near_duplicate_threshold,
        image_threshold=settings.image_near_duplicate_threshold,
    )
    similar = await ctx.run_sync(
        scene_edges,
        asset_id,
        visual,
        SimilarityKind.VISUAL,
        settings.visual_similarity_threshold,
        settings.similarity_max_edges,
    )
    return [
        (SimilarityKind.NEAR_DUPLICATE, model.name, f"{model.version}+{NEAR_DUPLICATE_RULES}", near),
        (SimilarityKind.VISUAL, model.name, f"{model.version}+{VISUAL_RULES}", similar),
    ]


async def _meaning_vectors(
    ctx: StageContext, session: AsyncSession, text_model: ModelRef, bridge_model: ModelRef, from_index: bool
) -> list[SceneVec]:
    """The meaning vectors the asset's semantic edges are scored among: every live asset's, or
    (``from_index``) the asset's and those of the assets the index finds near them."""
    tenant_id, asset_id = ctx.asset.tenant_id, ctx.asset.id
    if ctx.asset.kind == AssetKind.TEXT:
        compared = None
        if from_index:
            mine = await document_vectors(session, tenant_id, text_model, {asset_id})
            found = await candidates.candidate_assets(
                ctx,
                VectorField.TEXT,
                text_model,
                [s.vector for s in mine],
                scope=DocType.ASSET,
                kinds=(AssetKind.TEXT.value,),
            )
            compared = await candidates.compared_assets(ctx, session, [found])
        return await document_vectors(session, tenant_id, text_model, compared)
    compared = None
    if from_index:
        mine = await semantic_scene_vectors(session, tenant_id, text_model, bridge_model, {asset_id})
        queries = [s.vector for s in mine]
        # A scene's meaning mixes its words and its picture: near it in either index field.
        near = [
            await candidates.candidate_assets(ctx, VectorField.TEXT, text_model, queries),
            await candidates.candidate_assets(ctx, VectorField.BRIDGE, bridge_model, queries),
        ]
        compared = await candidates.compared_assets(ctx, session, near)
    return await semantic_scene_vectors(session, tenant_id, text_model, bridge_model, compared)


async def run_similarity(ctx: StageContext) -> StageOutput:
    """Link the asset to similar assets and scenes; replace every edge of it these rules made."""
    await ctx.report_progress(0.0)
    router = await router_of(ctx)
    settings = ctx.settings
    kind, asset_id, tenant_id = ctx.asset.kind, ctx.asset.id, ctx.asset.tenant_id
    with permanent_errors("choosing the models"):
        visual_model = router.model_for("embed_image").ref
        text_model = router.model_for("embed_text").ref
        bridge_model = router.model_for("embed_bridge").ref
    limit = settings.similarity_max_edges
    # (kind, model name, model version, edges) per replace call.
    outputs: list[Output] = []
    async with ctx.session_factory() as session:
        sound = await audio_output(ctx, session)
        from_index = await candidates.use_index(ctx, session, text=kind == AssetKind.TEXT)
        if kind in (AssetKind.VIDEO, AssetKind.IMAGE):
            outputs.extend(await _visual_outputs(ctx, session, visual_model, from_index))
        await ctx.report_progress(0.5)
        meaning = await _meaning_vectors(ctx, session, text_model, bridge_model, from_index)
    semantic = await ctx.run_sync(
        scene_edges,
        asset_id,
        meaning,
        SimilarityKind.SEMANTIC,
        settings.semantic_similarity_threshold,
        limit,
        OwnerType.ASSET if kind == AssetKind.TEXT else OwnerType.SCENE,
    )
    outputs.append(
        (SimilarityKind.SEMANTIC, text_model.name, f"{text_model.version}+{SEMANTIC_RULES}", semantic)
    )
    await ctx.report_progress(1.0)

    async def write(session: AsyncSession) -> None:
        if sound is not None:
            await write_audio(session, ctx, sound)
        for edge_kind, name, version, edges in outputs:
            await replace_asset_edges(
                session,
                tenant_id=tenant_id,
                asset_id=asset_id,
                kinds=[edge_kind],
                model_name=name,
                model_version=version,
                edges=edges,
            )

    versions = {f"{k.value}:{n}": v for k, n, v, _ in outputs}
    if sound is not None:
        versions[f"{SimilarityKind.NEAR_DUPLICATE.value}:{AUDIO_MODEL}"] = sound.edge_version
    return StageOutput(write=write, model_versions=versions)


def register_stages(registry: StageRegistry) -> None:
    """Register the similarity stage."""
    registry.register(StageName.SIMILARITY, run_similarity, max_retries=3)

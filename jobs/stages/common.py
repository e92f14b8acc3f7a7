"""What the analysis stages share: the process's inference router, typed permanent errors,
the scene model of each asset kind and reading the current scenes of an asset.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.enums import AssetKind
from app.jobs.errors import PermanentStageError
from app.media import stage_repository
from app.media.probe import CORRUPT_MEDIA, KIND_MISMATCH
from inference.errors import (
    ContractError,
    MediaError,
    ModelNotConfiguredError,
    NoAudioStreamError,
    NoVideoStreamError,
    TextExtractionError,
    UnknownModelError,
)
from inference.preprocess import RGBImage, load_image
from inference.router import InferenceRouter
from jobs.registry import StageContext

MODEL_NOT_CONFIGURED = "MODEL_NOT_CONFIGURED"
MODEL_CONTRACT = "MODEL_CONTRACT"
# A downstream stage found none of the scenes its asset needs (the scenes stage of the
# current version never ran for it, e.g. a partial reprocess after an upgrade).
SCENES_MISSING = "SCENES_MISSING"


async def router_of(ctx: StageContext) -> InferenceRouter:
    """The process's inference router (built on first use and kept in ``services.inference``,
    so every stage shares its threads, batcher and cache)."""
    with permanent_errors("configuring the models"):
        router = await ctx.services.inference_router()
    assert isinstance(router, InferenceRouter)  # Services types the slot Any (import direction)
    return router


@contextmanager
def permanent_errors(what: str) -> Iterator[None]:
    """Turn the model layer's permanent errors into typed permanent stage failures.

    Anything else (a model server that is down, a timeout) stays transient and is retried.
    """
    try:
        yield
    except (NoAudioStreamError, NoVideoStreamError) as exc:
        raise PermanentStageError(KIND_MISMATCH, f"{what}: {exc}") from exc
    except (MediaError, TextExtractionError) as exc:
        raise PermanentStageError(CORRUPT_MEDIA, f"{what}: {exc}") from exc
    except ModelNotConfiguredError as exc:
        raise PermanentStageError(MODEL_NOT_CONFIGURED, f"{what}: {exc}") from exc
    except (ContractError, UnknownModelError) as exc:
        raise PermanentStageError(MODEL_CONTRACT, f"{what}: {exc}") from exc


# --- scenes ------------------------------------------------------------------------------

# What makes each kind's scenes; the version changes whenever the scene boundaries or the
# keyframes could change, so downstream stages never mix scenes of two versions.
VIDEO_SCENES_MODEL = "pyscenedetect-content"
IMAGE_SCENES_MODEL = "single-frame"
AUDIO_SCENES_MODEL = "silero-vad-spans"


def scene_model(kind: AssetKind) -> tuple[str, str]:
    """(model name, version) of the scenes of an asset of ``kind``."""
    if kind == AssetKind.VIDEO:
        import scenedetect

        from inference import media

        # Detector version and parameters, and the keyframe policy (k2: middle frame unless a
        # clearly sharper one is near; see inference.media.extract_keyframes).
        return VIDEO_SCENES_MODEL, (
            f"{scenedetect.__version__}-t{media.DEFAULT_THRESHOLD:g}-w{media.ANALYSIS_WIDTH}-k2"
        )
    if kind == AssetKind.IMAGE:
        return IMAGE_SCENES_MODEL, "1"
    if kind == AssetKind.AUDIO:
        import faster_whisper

        # s700: 700 ms minimum pause; o: cut where a phrase begins (jobs.stages.scenes.tile_spans).
        return AUDIO_SCENES_MODEL, f"{faster_whisper.__version__}-s700-o"
    raise ValueError(f"{kind.value} assets have no scenes")


@dataclass(frozen=True, slots=True)
class SceneRef:
    """The parts of a Scene row downstream stages read."""

    id: uuid.UUID
    ordinal: int
    start_s: float
    end_s: float
    keyframe_blob_key: str | None
    phash: str | None

    @property
    def duration(self) -> float:
        """Length in seconds (0 for an image)."""
        return max(0.0, self.end_s - self.start_s)


async def load_scenes(ctx: StageContext, *, require: bool = True) -> list[SceneRef]:
    """The asset's scenes of the current scene model, in order.

    ``require``: fail permanently when there are none (the scenes stage of this version has
    not run for the asset), instead of silently writing nothing.
    """
    async with ctx.session_factory() as session:
        scenes = await scenes_in(session, kind=ctx.asset.kind, asset_id=ctx.asset.id)
    if require and not scenes:
        name, version = scene_model(ctx.asset.kind)
        raise PermanentStageError(
            SCENES_MISSING,
            f"the asset has no scenes of {name}:{version}; reprocess it from the scenes stage",
        )
    return scenes


async def scenes_in(session: AsyncSession, *, kind: AssetKind, asset_id: uuid.UUID) -> list[SceneRef]:
    """The asset's scenes of the current scene model, in order, read in ``session``."""
    name, version = scene_model(kind)
    rows = await stage_repository.scenes_of_model(
        session, asset_id=asset_id, model_name=name, model_version=version
    )
    return [SceneRef(*row) for row in rows]


async def link_segments(session: AsyncSession, *, kind: AssetKind, asset_id: uuid.UUID) -> None:
    """Point every transcript segment of the asset at the current scene it overlaps most
    (``scene_at``), or at none while the asset has no scenes.

    Transcribe runs beside the scenes stage (it needs only the audio), so whichever of the two
    commits second finds the other's rows: transcribe links its segments in its own write, and
    the embed stage, which runs after both, links them again (after a scenes-only reprocess the
    old scenes are gone and their segments point nowhere)."""
    scenes = await scenes_in(session, kind=kind, asset_id=asset_id)
    links: dict[uuid.UUID, uuid.UUID | None] = {}
    for segment_id, start, end, current in await stage_repository.segment_spans(session, asset_id=asset_id):
        scene = scene_at(scenes, start, end)
        wanted = scene.id if scene is not None else None
        if wanted != current:
            links[segment_id] = wanted
    if links:
        await stage_repository.set_segment_scenes(session, links)


def scene_at(scenes: Sequence[SceneRef], start: float, end: float) -> SceneRef | None:
    """The scene [start, end] overlaps most; for an instant, the scene holding it; outside
    every scene (speech after the last frame), the nearest one."""
    if not scenes:
        return None

    def overlap(scene: SceneRef) -> float:
        return min(end, scene.end_s) - max(start, scene.start_s)

    best = max(scenes, key=overlap)
    if overlap(best) > 0:
        return best
    for scene in scenes:
        if scene.start_s <= start < scene.end_s:
            return scene
    return min(scenes, key=lambda s: max(s.start_s - start, start - s.end_s, 0.0))


def frame_source(ctx: StageContext, scene: SceneRef) -> tuple[str, str] | None:
    """(blob key, content sha256) of the pixels frame-level stages analyse for ``scene``: the
    original of an image asset (no JPEG loss), the keyframe of a video scene, None without one."""
    if ctx.asset.kind == AssetKind.IMAGE:
        return ctx.asset.blob_key, ctx.asset.content_sha256
    key = scene.keyframe_blob_key
    if key is None:
        return None
    # Blob keys are sha256/<2>/<2>/<sha256><suffix> (app.core.blobs.blob_key).
    return key, key.rsplit("/", 1)[-1].split(".", 1)[0]


async def frame_of(ctx: StageContext, scene: SceneRef) -> RGBImage | None:
    """The RGB pixels of ``frame_source(ctx, scene)``, or None."""
    source = frame_source(ctx, scene)
    if source is None:
        return None
    data = await ctx.run_sync(ctx.blobs.read_bytes, source[0])
    with permanent_errors(f"decoding the frame of scene {scene.ordinal}"):
        return await ctx.run_sync(load_image, data)


def model_versions(*refs: Any) -> dict[str, str]:
    """``{name: version}`` of ``ModelRef``s (or (name, version) pairs) for the JobStage row."""
    out: dict[str, str] = {}
    for ref in refs:
        name, version = (ref.name, ref.version) if hasattr(ref, "name") else ref
        out[str(name)] = str(version)
    return out

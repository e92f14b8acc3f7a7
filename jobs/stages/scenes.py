"""The scenes stage: an asset cut into the units every later stage attaches its findings to.

- video: shots from PySceneDetect's ContentDetector on 160 px frames; per shot a keyframe
  (JPEG blob), a thumbnail (JPEG blob, fits 320x180) and the keyframe's perceptual hash;
- image: one scene, the image itself as keyframe (fitted in 1920 px) and thumbnail;
- audio: scenes cut where each phrase begins (the start of a Silero VAD speech span, padded
  0.2 s), so the scenes tile the track, every spoken sentence falls inside one, and a scene
  (and a search hit on it) starts at its speech rather than in the pause before it (the pause
  ends the previous scene); a track without speech is one scene.

Keyframe and thumbnail blobs are written before the transaction: they are content-addressed,
so a retry writes the same keys and a failed run leaves at most an unreferenced blob.

Decoding runs in threads that watch ``ctx.cancelled``: a cancelled, timed-out or taken-over
stage stops decoding at the next frame. Shot detection reports its progress as it decodes.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.blobs import BlobStore
from app.core.enums import AssetKind
from app.jobs.pipeline import StageName
from app.media.service import replace_scenes
from inference import media
from inference.preprocess import RGBImage, load_image
from inference.registry import SAMPLE_RATE
from jobs.registry import StageContext, StageOutput, StageRegistry
from jobs.stages.common import permanent_errors, scene_model

# Share of the stage's progress that shot detection covers: it decodes every frame, keyframe
# extraction ~3 frames per shot.
DETECTION_SHARE = 0.7
# Keyframes of image assets are fitted in this box: enough for the detectors and a viewer,
# while a 50-megapixel original stays the asset's own blob.
IMAGE_KEYFRAME_SIZE = (1920, 1920)
KEYFRAME_SUFFIX = ".jpg"


@dataclass(frozen=True, slots=True)
class StoredFrame:
    """A keyframe written to the blob store."""

    keyframe_key: str
    thumbnail_key: str
    phash: str


def store_frame(blobs: BlobStore, jpeg: bytes, thumbnail: bytes, image: RGBImage) -> StoredFrame:
    """Write a keyframe and its thumbnail; hash the pixels (blocking: run it off the loop)."""
    keyframe = blobs.put_bytes(jpeg, suffix=KEYFRAME_SUFFIX)
    thumb = blobs.put_bytes(thumbnail, suffix=KEYFRAME_SUFFIX)
    return StoredFrame(keyframe.key, thumb.key, media.perceptual_hash(image))


def video_scenes(
    blobs: BlobStore, path: Path, shots: list[media.Shot], *, cancel: threading.Event | None = None
) -> list[dict[str, Any]]:
    """Scene rows of a video's shots, with their keyframes stored (blocking)."""
    keyframes = {k.shot_index: k for k in media.extract_keyframes(path, shots, cancel=cancel)}
    rows: list[dict[str, Any]] = []
    for shot in shots:
        row: dict[str, Any] = {"ordinal": shot.index, "start_s": shot.start, "end_s": shot.end}
        keyframe = keyframes.get(shot.index)
        if keyframe is not None:
            stored = store_frame(blobs, keyframe.jpeg, keyframe.thumbnail, keyframe.image)
            row.update(
                keyframe_blob_key=stored.keyframe_key,
                thumbnail_blob_key=stored.thumbnail_key,
                phash=stored.phash,
            )
        rows.append(row)
    return rows


def image_scene(blobs: BlobStore, data: bytes) -> list[dict[str, Any]]:
    """The one scene of an image (blocking)."""
    image = load_image(data)
    stored = store_frame(
        blobs,
        media.encode_jpeg(image, max_size=IMAGE_KEYFRAME_SIZE),
        media.encode_jpeg(image, max_size=media.THUMBNAIL_SIZE),
        image,
    )
    return [
        {
            "ordinal": 0,
            "start_s": 0.0,
            "end_s": 0.0,
            "keyframe_blob_key": stored.keyframe_key,
            "thumbnail_blob_key": stored.thumbnail_key,
            "phash": stored.phash,
        }
    ]


def tile_spans(spans: list[media.Span], duration: float) -> list[tuple[float, float]]:
    """Scenes covering [0, duration], cut where each speech span after the first begins.

    Cutting in the middle of the pause put a phrase's scene start up to half a pause before its
    first word (a 2.2 s pause: 1.1 s of silence at the start of the hit); the VAD's own 0.2 s
    padding is the only lead left. The first scene starts at 0 so the scenes tile the track.
    """
    if duration <= 0:
        return [(0.0, 0.0)]
    if not spans:
        return [(0.0, duration)]
    # A span starting inside the previous one cannot happen with Silero's output; max() keeps
    # the cut after the previous phrase's end all the same.
    cuts = [max(b.start, a.end) for a, b in itertools.pairwise(spans)]
    bounds = [0.0, *cuts, duration]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1) if bounds[i + 1] > bounds[i]]


def audio_scenes(path: Path, *, cancel: threading.Event | None = None) -> list[dict[str, Any]]:
    """Scene rows of an audio track (blocking)."""
    audio = media.decode_audio(path, cancel=cancel)
    duration = audio.size / SAMPLE_RATE
    spans = media.speech_spans(audio)
    return [
        {"ordinal": i, "start_s": round(start, 3), "end_s": round(end, 3)}
        for i, (start, end) in enumerate(tile_spans(spans, duration))
    ]


async def run_scenes(ctx: StageContext) -> StageOutput:
    """Cut the asset into scenes; replace its scenes of the current scene model."""
    kind = ctx.asset.kind
    name, version = scene_model(kind)
    await ctx.report_progress(0.0)
    path = ctx.blobs.local_path(ctx.asset.blob_key)
    with permanent_errors(f"cutting the {kind.value} into scenes"):
        if kind == AssetKind.VIDEO:
            report = ctx.progress_from_thread()
            shots = await ctx.run_sync(
                media.detect_shots,
                path,
                cancel=ctx.cancelled,
                progress=lambda fraction: report(fraction * DETECTION_SHARE),
            )
            await ctx.report_progress(DETECTION_SHARE)
            rows = await ctx.run_sync(video_scenes, ctx.blobs, path, shots, cancel=ctx.cancelled)
        elif kind == AssetKind.IMAGE:
            data = await ctx.run_sync(ctx.blobs.read_bytes, ctx.asset.blob_key)
            rows = await ctx.run_sync(image_scene, ctx.blobs, data)
        else:
            rows = await ctx.run_sync(audio_scenes, path, cancel=ctx.cancelled)
    await ctx.report_progress(1.0)
    tenant_id, asset_id = ctx.asset.tenant_id, ctx.asset.id

    async def write(session: AsyncSession) -> None:
        await replace_scenes(
            session,
            tenant_id=tenant_id,
            asset_id=asset_id,
            model_name=name,
            model_version=version,
            scenes=rows,
        )

    return StageOutput(write=write, model_versions={name: version})


def register_stages(registry: StageRegistry) -> None:
    """Register the scenes stage."""
    registry.register(StageName.SCENES, run_scenes, max_retries=2)

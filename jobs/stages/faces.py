"""Face tracks of the detect stage: faces followed across a shot's sampled frames, described
once per track.

The detector's pass over every keyframe is the cheap gate: a shot (or image) with no face on
its keyframe costs nothing more. A video shot with a face is sampled at a few more instants
(``sample_times``); faces are chained across the samples by box overlap, each chain's best
face is described (5-point alignment + ResNet descriptor, one model call per frame), chains
of the same face are joined, and the best face of each track is stored as its crop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.core.enums import AssetKind
from app.people.service import NewTrack
from app.people.tracking import FrameFace, Track, chain, merge_same
from inference import media
from inference.preprocess import RGBImage
from inference.registry import ModelRef
from inference.router import InferenceRouter
from inference.types import Faces
from jobs.registry import StageContext
from jobs.stages.common import SceneRef, permanent_errors

# Sampled frames are shrunk to this longest side: the detector works at 640 and the aligned
# descriptor chip is 150 px, so larger frames only cost decoding and copying.
FRAME_MAX_SIDE = 960
CROP_SIZE = (160, 160)
CROP_SUFFIX = ".jpg"
# A shot shorter than this is its keyframe alone (a sample would be the same picture).
MIN_SAMPLED_SHOT_S = 1.0
LONG_SHOT_S = 10.0


@dataclass(frozen=True, slots=True)
class KeyframeFaces:
    """A scene's keyframe and the faces the detector found on it."""

    scene: SceneRef
    frame: RGBImage
    faces: Faces


def sample_times(scene: SceneRef) -> list[float]:
    """Instants of a shot sampled besides its keyframe (about its middle): near both ends,
    and two more in a long shot."""
    d = scene.duration
    if d < MIN_SAMPLED_SHOT_S:
        return []
    fractions = (0.1, 0.3, 0.7, 0.9) if d >= LONG_SHOT_S else (0.15, 0.85)
    return [scene.start_s + d * f for f in fractions]


def frame_faces(faces: Faces, frame: RGBImage, time_s: float) -> list[FrameFace]:
    """Detector faces as normalised ``FrameFace``s at ``time_s``."""
    height, width = frame.shape[0], frame.shape[1]
    return [
        FrameFace(time_s, (f.x / width, f.y / height, f.width / width, f.height / height), f.score)
        for f in faces.faces
    ]


def _pixels(face: FrameFace, frame: RGBImage) -> tuple[float, float, float, float]:
    height, width = frame.shape[0], frame.shape[1]
    x, y, w, h = face.box
    return x * width, y * height, w * width, h * height


def crop_jpeg(face: FrameFace, frame: RGBImage) -> bytes:
    """The face with a margin (a third of its size each side), as a small JPEG."""
    x, y, w, h = _pixels(face, frame)
    mx, my = w / 3, h / 3
    top, bottom = max(0, int(y - my)), min(frame.shape[0], int(y + h + my))
    left, right = max(0, int(x - mx)), min(frame.shape[1], int(x + w + mx))
    return media.encode_jpeg(
        np.ascontiguousarray(frame[top:bottom, left:right]), quality=85, max_size=CROP_SIZE
    )


async def _describe(
    router: InferenceRouter, tracks: list[Track], frames: dict[float, RGBImage]
) -> tuple[list[Track], ModelRef | None]:
    """Each track with a descriptor on its best face (one model call per frame)."""
    wanted: dict[float, list[tuple[int, FrameFace]]] = defaultdict(list)
    for i, track in enumerate(tracks):
        wanted[track.best.time_s].append((i, track.best))
    model: ModelRef | None = None
    described = list(tracks)
    for time_s, items in wanted.items():
        frame = frames[time_s]
        with permanent_errors("describing faces"):
            out = await router.face_descriptors(frame, [_pixels(face, frame) for _, face in items])
        model = out.model
        for (i, face), vector in zip(items, out.vectors, strict=True):
            faces = [replace(f, descriptor=vector) if f is face else f for f in described[i].faces]
            described[i] = Track(faces)
    return described, model


async def face_tracks(
    ctx: StageContext, router: InferenceRouter, found: Sequence[KeyframeFaces], *, min_score: float
) -> tuple[list[NewTrack], ModelRef | None]:
    """The asset's face tracks (with stored crops) and the descriptor model that described them."""
    video = ctx.asset.kind == AssetKind.VIDEO
    path = ctx.blobs.local_path(ctx.asset.blob_key) if video and any(k.faces.faces for k in found) else None
    out: list[NewTrack] = []
    model: ModelRef | None = None
    for key in found:
        if not key.faces.faces:
            continue
        scene = key.scene
        keyframe_time = (scene.start_s + scene.end_s) / 2 if video else scene.start_s
        frames: dict[float, RGBImage] = {keyframe_time: key.frame}
        detected: dict[float, list[FrameFace]] = {
            keyframe_time: frame_faces(key.faces, key.frame, keyframe_time)
        }
        if path is not None:
            with permanent_errors(f"sampling the frames of scene {scene.ordinal}"):
                samples = await ctx.run_sync(
                    media.video_frames,
                    path,
                    sample_times(scene),
                    max_side=FRAME_MAX_SIDE,
                    cancel=ctx.cancelled,
                )
            for time_s, frame in samples:
                if time_s in frames or not scene.start_s <= time_s < scene.end_s:
                    continue
                with permanent_errors("finding faces"):
                    faces = await router.faces(frame, min_score=min_score)
                frames[time_s] = frame
                detected[time_s] = frame_faces(faces, frame, time_s)
        times = sorted(frames)
        chained = chain([detected[t] for t in times])
        described, used = await _describe(router, chained, frames)
        model = used or model
        for track in merge_same(described):
            best = track.best
            jpeg = crop_jpeg(best, frames[best.time_s])
            stored = await ctx.run_sync(ctx.blobs.put_bytes, jpeg, suffix=CROP_SUFFIX)
            # Seen in the shot's first (last) sample: on screen from its start (to its end).
            start = scene.start_s if track.start_s == times[0] else track.start_s
            end = scene.end_s if track.end_s == times[-1] else track.end_s
            out.append(NewTrack(track, scene.id, stored.key, (start, end)))
    return out, model

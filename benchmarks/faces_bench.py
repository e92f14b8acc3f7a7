"""What face identity adds to the detect stage, per minute of video, beside the baseline of the
same run.

The video: one minute of 1280x720 at 25 fps, twelve 5 s shots, eight of them with one or two
real faces (tests/fixtures/faces.py: zoom, crop, cuts) and four without. Both modes start from
the same shots and keyframes (the scenes stage's output) and run on this machine's models:

- baseline: the Haar cascade on every keyframe (the detect stage's face pass before faces had
  identity);
- faces: dlib's HOG on every keyframe, then for each shot with a face the stage's own
  ``jobs.stages.faces.face_tracks`` (frames sampled in the shot, HOG on each, one descriptor
  per track, a stored crop per track).

Each mode runs ROUNDS times after a warm-up; the table gives the median seconds and the added
seconds per minute of video (target: <= 1.5 s on 2 cores). Usage:
``.venv/bin/python benchmarks/faces_bench.py [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from app.core.enums import AssetKind
from inference import media
from inference.config import InferenceConfig
from inference.preprocess import RGBImage
from inference.router import InferenceRouter
from jobs.registry import StageContext
from jobs.stages.common import SceneRef
from jobs.stages.faces import KeyframeFaces, face_tracks
from tests.fixtures.faces import FaceShot, make_face_video

PEOPLE_SHOTS: tuple[tuple[str, ...], ...] = (
    ("obama",), (), ("biden", "astronaut"), ("obama2",), (), ("astronaut",),
    ("obama3", "biden"), (), ("biden",), ("obama",), (), ("astronaut", "obama2"),
)  # fmt: skip
BACKGROUNDS = ((40, 60, 90), (210, 210, 200), (110, 40, 40), (30, 130, 60))


@dataclass
class _Blobs:
    """The two blob calls face_tracks makes, on a temporary directory."""

    root: Path
    video: Path
    stored: list[int] = field(default_factory=list)

    def local_path(self, key: str) -> Path:
        return self.video

    def put_bytes(self, data: bytes, *, suffix: str = "") -> Any:
        self.stored.append(len(data))
        return type("Stored", (), {"key": f"crop{len(self.stored)}{suffix}"})()


@dataclass
class _Context:
    """The parts of a StageContext face_tracks reads."""

    blobs: _Blobs
    asset: Any
    cancelled: threading.Event = field(default_factory=threading.Event)

    async def run_sync(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)


async def _baseline(router: InferenceRouter, keyframes: list[tuple[SceneRef, RGBImage]]) -> int:
    found = await asyncio.gather(*(router.faces(frame, min_score=0.25) for _, frame in keyframes))
    return sum(len(f.faces) for f in found)


async def _faces(
    router: InferenceRouter, ctx: _Context, keyframes: list[tuple[SceneRef, RGBImage]]
) -> tuple[int, int]:
    found = await asyncio.gather(*(router.faces(frame, min_score=0.25) for _, frame in keyframes))
    key = [KeyframeFaces(scene, frame, faces) for (scene, frame), faces in zip(keyframes, found, strict=True)]
    tracks, _ = await face_tracks(cast(StageContext, ctx), router, key, min_score=0.25)
    return sum(len(f.faces) for f in found), len(tracks)


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shots = [
            FaceShot(people, seconds=5.0, zoom=1.2 if i % 3 == 0 else 1.0, slide=0.1 if i % 4 == 1 else 0.0,
                     background=BACKGROUNDS[i % len(BACKGROUNDS)])
            for i, people in enumerate(PEOPLE_SHOTS)
        ]  # fmt: skip
        video = make_face_video(Path(tmp) / "faces.mp4", shots, fps=25, size=(1280, 720))
        cuts = media.detect_shots(video.path)
        scenes = [SceneRef(uuid.uuid4(), s.index, s.start, s.end, None, None) for s in cuts]
        frames = {k.shot_index: k.image for k in media.extract_keyframes(video.path, cuts)}
        keyframes = [(s, frames[s.ordinal]) for s in scenes if s.ordinal in frames]
        minutes = sum(s.duration for s in scenes) / 60
        ctx = _Context(
            _Blobs(Path(tmp), video.path), type("Asset", (), {"kind": AssetKind.VIDEO, "blob_key": "v"})()
        )
        haar = InferenceRouter(InferenceConfig(face_detector="haar"))
        hog = InferenceRouter(InferenceConfig(face_detector="hog"))
        try:
            await _baseline(haar, keyframes)
            await _faces(hog, ctx, keyframes)
            base_times, face_times = [], []
            for _ in range(rounds):
                started = time.perf_counter()
                base_found = await _baseline(haar, keyframes)
                base_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                hog_found, track_count = await _faces(hog, ctx, keyframes)
                face_times.append(time.perf_counter() - started)
        finally:
            await haar.aclose()
            await hog.aclose()
        base, faces = statistics.median(base_times), statistics.median(face_times)
        load = os.getloadavg()[0]
        lines = [
            "## Face identity in the detect stage (faces_bench.py)",
            "",
            f"video: {minutes * 60:.0f} s, {len(scenes)} shots, {video.appearances} appearances; "
            f"median of {rounds} rounds, the two modes alternating; load average {load:.1f} at the end",
            "",
            "| mode | s (median) | faces on keyframes | tracks |",
            "|---|---|---|---|",
            f"| baseline: Haar on keyframes | {base:.2f} | {base_found} | - |",
            f"| HOG on keyframes + tracks + descriptors | {faces:.2f} | {hog_found} | {track_count} |",
            "",
            f"added: {(faces - base) / minutes:.2f} s per minute of video (target <= 1.5)",
        ]
        sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))

"""Faces followed across a shot's sampled frames into tracks (pure; no I/O).

Two steps, so the descriptor (the costly model) runs once per track, not once per face:

1. ``chain``: a face continues the track whose last box (in an earlier sampled frame) it
   overlaps most, with IoU at least ``MIN_IOU``; one face per track per frame.
2. ``merge_same``: once each track has a descriptor (of its best face), tracks of the shot that
   never share a frame and whose descriptors are under ``SURE_FACE`` are one appearance (a
   person who moved across the frame between two samples).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# dlib's documented same-person threshold for its ResNet descriptor (Euclidean distance).
SAME_FACE = 0.6
# Within one shot, closer than this is the same face without any box overlap.
SURE_FACE = 0.45
MIN_IOU = 0.2

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class FrameFace:
    """One face of one sampled frame: normalised box (x, y, w, h), score, and its descriptor
    when one was computed."""

    time_s: float
    box: Box
    score: float
    descriptor: npt.NDArray[np.float32] | None = None

    @property
    def area(self) -> float:
        """Box area as a fraction of the frame."""
        return self.box[2] * self.box[3]


@dataclass(slots=True)
class Track:
    """Faces of one appearance, in time order."""

    faces: list[FrameFace] = field(default_factory=list)

    @property
    def start_s(self) -> float:
        """Time of the first face."""
        return self.faces[0].time_s

    @property
    def end_s(self) -> float:
        """Time of the last face."""
        return self.faces[-1].time_s

    @property
    def best(self) -> FrameFace:
        """The face shown as the track's crop and described: the largest, then the most
        confident, then the earliest."""
        return max(self.faces, key=lambda f: (round(f.area, 4), f.score, -f.time_s))

    def descriptor(self) -> npt.NDArray[np.float32]:
        """The mean of the track's descriptors (what clustering compares)."""
        vectors = [f.descriptor for f in self.faces if f.descriptor is not None]
        if not vectors:
            raise ValueError("the track has no descriptor")
        mean: npt.NDArray[np.float32] = np.mean(np.stack(vectors), axis=0).astype(np.float32)
        return mean


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def distance(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """Euclidean distance of two descriptors (dlib's metric)."""
    return float(np.linalg.norm(a - b))


def chain(frames: Sequence[Sequence[FrameFace]]) -> list[Track]:
    """Tracks of one shot's sampled frames (in time order) by box overlap, by start time."""
    tracks: list[Track] = []
    for faces in frames:
        pairs = sorted(
            (-iou(face.box, track.faces[-1].box), fi, ti)
            for fi, face in enumerate(faces)
            for ti, track in enumerate(tracks)
            if track.faces[-1].time_s < face.time_s and iou(face.box, track.faces[-1].box) >= MIN_IOU
        )
        used_faces: set[int] = set()
        used_tracks: set[int] = set()
        for _, fi, ti in pairs:
            if fi in used_faces or ti in used_tracks:
                continue
            tracks[ti].faces.append(faces[fi])
            used_faces.add(fi)
            used_tracks.add(ti)
        tracks += [Track([face]) for fi, face in enumerate(faces) if fi not in used_faces]
    return sorted(tracks, key=lambda t: (t.start_s, t.faces[0].box[0]))


def merge_same(tracks: Sequence[Track]) -> list[Track]:
    """Join tracks of one shot that are the same face (descriptors under ``SURE_FACE``) and
    never share a frame, closest pair first."""
    merged = [Track(list(t.faces)) for t in tracks]
    while True:
        best: tuple[float, int, int] | None = None
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                times_i = {f.time_s for f in merged[i].faces}
                if times_i & {f.time_s for f in merged[j].faces}:
                    continue
                d = distance(merged[i].descriptor(), merged[j].descriptor())
                if d < SURE_FACE and (best is None or d < best[0]):
                    best = (d, i, j)
        if best is None:
            return sorted(merged, key=lambda t: (t.start_s, t.faces[0].box[0]))
        _, i, j = best
        merged[i] = Track(sorted(merged[i].faces + merged[j].faces, key=lambda f: f.time_s))
        del merged[j]

"""Faces followed across a shot's sampled frames into tracks (pure; no I/O).

Two faces in consecutive sampled frames are the same track when their descriptors are close
(under ``SAME_FACE``) and, unless the descriptors are very close (``SURE_FACE``), their boxes
overlap (IoU at least ``MIN_IOU``): a person who walks across the frame between two samples
is still followed by identity, and two similar-looking people side by side are not swapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# dlib's documented same-person threshold for its ResNet descriptor (Euclidean distance).
SAME_FACE = 0.6
SURE_FACE = 0.45
MIN_IOU = 0.2

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class FrameFace:
    """One face of one sampled frame: normalised box (x, y, w, h), score, descriptor."""

    time_s: float
    box: Box
    score: float
    descriptor: npt.NDArray[np.float32]

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
        """The face shown as the track's crop: the largest, then the most confident."""
        return max(self.faces, key=lambda f: (f.area * max(f.score, 1e-3), -f.time_s))

    def descriptor(self) -> npt.NDArray[np.float32]:
        """The mean descriptor clustering compares."""
        mean: npt.NDArray[np.float32] = np.mean(np.stack([f.descriptor for f in self.faces]), axis=0).astype(
            np.float32
        )
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


def follow(frames: Sequence[Sequence[FrameFace]]) -> list[Track]:
    """Tracks of one shot from its sampled frames (in time order), by start time.

    Each frame's faces are matched greedily, closest descriptor first, to the tracks alive in
    the previous frames; one face per track per frame. A face that matches none starts a track.
    """
    tracks: list[Track] = []
    for faces in frames:
        pairs: list[tuple[float, int, int]] = []
        for fi, face in enumerate(faces):
            for ti, track in enumerate(tracks):
                last = track.faces[-1]
                if last.time_s >= face.time_s:
                    continue
                d = distance(face.descriptor, last.descriptor)
                if d < SURE_FACE or (d < SAME_FACE and iou(face.box, last.box) >= MIN_IOU):
                    pairs.append((d, fi, ti))
        used_faces: set[int] = set()
        used_tracks: set[int] = set()
        for _, fi, ti in sorted(pairs):
            if fi in used_faces or ti in used_tracks:
                continue
            tracks[ti].faces.append(faces[fi])
            used_faces.add(fi)
            used_tracks.add(ti)
        for fi, face in enumerate(faces):
            if fi not in used_faces:
                tracks.append(Track([face]))
    return sorted(tracks, key=lambda t: (t.start_s, t.faces[0].box[0]))

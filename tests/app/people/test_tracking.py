"""Faces followed into tracks: by box overlap across sampled frames, then joined by descriptor."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from app.people.tracking import FrameFace, Track, chain, iou, merge_same


def _vec(*head: float) -> npt.NDArray[np.float32]:
    vector = np.zeros(128, dtype=np.float32)
    vector[: len(head)] = head
    return vector


def test_iou_of_boxes() -> None:
    assert iou((0.0, 0.0, 0.2, 0.2), (0.0, 0.0, 0.2, 0.2)) == 1.0
    assert iou((0.0, 0.0, 0.2, 0.2), (0.1, 0.0, 0.2, 0.2)) == pytest.approx(1 / 3)
    assert iou((0.0, 0.0, 0.2, 0.2), (0.5, 0.5, 0.2, 0.2)) == 0.0


def test_a_face_continues_the_track_it_overlaps_most_one_face_per_track_and_frame() -> None:
    left = FrameFace(0.0, (0.10, 0.1, 0.2, 0.2), 0.9)
    right = FrameFace(0.0, (0.60, 0.1, 0.2, 0.2), 0.9)
    # One second later: the left face moved a little (IoU 0.82 with its last box); a second face
    # overlaps that box too (IoU 0.33) but the moved face takes the track; a third face is
    # elsewhere; the right face left the frame.
    moved = FrameFace(1.0, (0.12, 0.1, 0.2, 0.2), 0.8)
    beside = FrameFace(1.0, (0.20, 0.1, 0.2, 0.2), 0.7)
    far = FrameFace(1.0, (0.10, 0.7, 0.2, 0.2), 0.6)
    tracks = chain([[left, right], [moved, beside, far]])
    # By start time, then left to right.
    assert [t.faces for t in tracks] == [[left, moved], [right], [far], [beside]]


def test_tracks_of_the_same_face_join_only_when_they_never_share_a_frame() -> None:
    a = Track([FrameFace(0.0, (0.1, 0.1, 0.2, 0.2), 0.9, _vec(0.0))])
    # The same face (distance 0.3 < SURE_FACE) seen again after moving across the frame.
    b = Track([FrameFace(2.0, (0.7, 0.1, 0.2, 0.2), 0.9, _vec(0.3))])
    # Close to a too (0.2), but in the same frame: two people, never joined; 0.5 from b.
    c = Track([FrameFace(0.0, (0.5, 0.5, 0.2, 0.2), 0.9, _vec(-0.2))])
    # Another face altogether.
    d = Track([FrameFace(4.0, (0.1, 0.1, 0.2, 0.2), 0.9, _vec(1.0))])
    merged = merge_same([a, b, c, d])
    assert [[f.time_s for f in t.faces] for t in merged] == [[0.0, 2.0], [0.0], [4.0]]
    assert merged[0].faces == [a.faces[0], b.faces[0]]
    assert np.allclose(merged[0].descriptor(), _vec(0.15))


def test_the_best_face_is_the_largest_then_the_most_confident_then_the_earliest() -> None:
    small = FrameFace(0.0, (0.1, 0.1, 0.1, 0.1), 0.99)
    large_unsure = FrameFace(1.0, (0.1, 0.1, 0.3, 0.3), 0.5)
    large_sure = FrameFace(2.0, (0.1, 0.1, 0.3, 0.3), 0.9)
    large_sure_later = FrameFace(3.0, (0.2, 0.1, 0.3, 0.3), 0.9)
    assert Track([small, large_unsure, large_sure, large_sure_later]).best is large_sure

"""dlib face models: the HOG frontal-face detector and the ResNet face descriptor.

The descriptor model aligns each face with dlib's 5-point shape predictor and returns dlib's
128-d ResNet descriptor (Euclidean distance under 0.6: the same person, dlib's documented
threshold). The weights ship inside ``face-recognition-models``; its ``__init__`` imports
``pkg_resources`` (not installed here), so the data directory is found without importing it.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.models.base import LocalOptions, Runner
from inference.registry import FACE_DESCRIPTOR_DIM, ModelSpec, Tensors

# The detector works on images no larger than this (longest side): dlib's HOG window is 80 px,
# so faces down to 1/8 of a 640 px frame's longest side are found, at ~30 ms a frame on one core.
HOG_MAX_SIDE = 640
# The SVM margin a detection needs: dlib's default is 0, which also finds a second, false
# "face" on the suit in a JPEG of scikit-image's astronaut (margin 0.06); real faces in the
# fixtures score 1.1 and more (docs/models.md).
HOG_ADJUST = 0.25


def model_dir() -> Path:
    """The ``models`` directory of face-recognition-models (without importing the package)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("face-recognition-models is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def hog_score(margin: float) -> float:
    """dlib's SVM margin mapped monotonically to (0, 1): 0.5 at its default threshold (margin
    0), ~0.88 at margin 1. A ranking score and a floor, not a probability."""
    return 1.0 / (1.0 + math.exp(-2.0 * margin))


def _resized(image: npt.NDArray[np.uint8], max_side: int) -> tuple[npt.NDArray[np.uint8], float]:
    scale = min(1.0, max_side / max(image.shape[0], image.shape[1], 1))
    if scale >= 1.0:
        return image, 1.0
    import cv2

    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small, dtype=np.uint8), scale


def load_dlib_hog(spec: ModelSpec, options: LocalOptions) -> Runner:
    """dlib's HOG + linear SVM frontal-face detector."""
    import dlib

    detector = dlib.get_frontal_face_detector()

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        image = np.ascontiguousarray(inputs["image"], dtype=np.uint8)
        small, scale = _resized(image, HOG_MAX_SIDE)
        rects, margins, _ = detector.run(small, 0, HOG_ADJUST)
        height, width = image.shape[0], image.shape[1]
        boxes = []
        for rect in rects:
            x0 = max(0.0, rect.left() / scale)
            y0 = max(0.0, rect.top() / scale)
            x1 = min(float(width), (rect.right() + 1) / scale)
            y1 = min(float(height), (rect.bottom() + 1) / scale)
            boxes.append((x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0)))
        return {
            "boxes": np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
            "score": np.asarray([hog_score(m) for m in margins], dtype=np.float32).reshape(-1),
        }

    return run


# Descriptors are computed on frames no larger than this: the aligned chip is 150 px, so a face
# needs little more; decoding-size frames only make the shape predictor slower.
DESCRIPTOR_MAX_SIDE = 1280


def load_dlib_descriptor(spec: ModelSpec, options: LocalOptions) -> Runner:
    """5-point alignment and dlib's ResNet descriptor of each given face box."""
    import dlib

    root = model_dir()
    predictor = dlib.shape_predictor(str(root / "shape_predictor_5_face_landmarks.dat"))
    encoder = dlib.face_recognition_model_v1(str(root / "dlib_face_recognition_resnet_model_v1.dat"))

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        image = np.ascontiguousarray(inputs["image"], dtype=np.uint8)
        boxes = np.asarray(inputs["boxes"], dtype=np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return {"descriptor": np.zeros((0, FACE_DESCRIPTOR_DIM), dtype=np.float32)}
        small, scale = _resized(image, DESCRIPTOR_MAX_SIDE)
        shapes = dlib.full_object_detections()
        for x, y, w, h in (boxes * scale).tolist():
            rect = dlib.rectangle(round(x), round(y), round(x + w) - 1, round(y + h) - 1)
            shapes.append(predictor(small, rect))
        vectors = encoder.compute_face_descriptor(small, shapes)
        return {"descriptor": np.asarray([np.asarray(v) for v in vectors], dtype=np.float32).reshape(-1, 128)}

    return run

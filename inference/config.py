"""How the model layer is configured: which model serves each choice, and how models are served
(:class:`InferenceConfig`, built by the composition root from the service's settings)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from inference.errors import ModelNotConfiguredError
from inference.models.base import LocalOptions
from inference.registry import (
    DLIB_HOG_FACES,
    HAAR_FACES,
    IMAGENET_BRIDGE,
    IMAGENET_BRIDGE_INT8,
    MINILM_FP32,
    MINILM_INT8,
    WHISPER_BASE,
    WHISPER_TINY_EN,
    ModelSpec,
)

WhisperChoice = Literal["tiny.en", "base"]
TextEmbeddingChoice = Literal["fp32", "int8"]
FaceDetectorChoice = Literal["hog", "haar"]

WHISPER_MODELS: dict[str, ModelSpec] = {"tiny.en": WHISPER_TINY_EN, "base": WHISPER_BASE}
TEXT_MODELS: dict[str, ModelSpec] = {"fp32": MINILM_FP32, "int8": MINILM_INT8}
BRIDGE_MODELS: dict[str, ModelSpec] = {"fp32": IMAGENET_BRIDGE, "int8": IMAGENET_BRIDGE_INT8}
FACE_DETECTORS: dict[str, ModelSpec] = {"hog": DLIB_HOG_FACES, "haar": HAAR_FACES}


class SettingsLike(Protocol):
    """The fields of ``app.core.settings.Settings`` the model layer reads."""

    inference_url: str
    whisper_model: str
    clip_model_dir: Path | None
    data_dir: Path
    cpu_budget: int


@dataclass(frozen=True, slots=True)
class InferenceConfig:
    """How models are chosen and served; the composition root builds it from the service's
    settings (:meth:`from_settings`)."""

    # local:// runs the models here; grpc:// and http(s):// name Triton (inference.factory).
    url: str = "local://"
    whisper_model: WhisperChoice = "tiny.en"
    text_embedding: TextEmbeddingChoice = "fp32"
    clip_model_dir: Path | None = None
    batching: bool = True
    # None: up to the model's max_batch_size (the batcher sends what queued during one call).
    batch_max_items: int | None = None
    batch_max_delay_ms: float = 5.0
    cache_max_entries: int = 50_000
    cache_max_bytes: int = 256 * 1024 * 1024
    # Worker threads of the local backend, and threads per model call (0: library default).
    # Parallelism comes from running calls side by side, one core each: torch's OpenMP pool
    # busy-waits, and two 2-thread calls on 2 cores (or any other load) made a MiniLM batch of
    # 32 take 1.2 s instead of 0.17 s in measurements on this CPU.
    threads: int = 2
    cpu_threads: int = 1
    whisper_threads: int = 2
    # Cores all concurrent calls together may use (LocalBackend's CPU slots): a call takes as
    # many slots as threads it runs, so stages overlap without oversubscribing. 0: no limit
    # beyond ``threads``.
    cpu_budget: int = 0
    # Per model key or name: concurrent calls; the spec's own max_concurrency otherwise.
    max_concurrency: Mapping[str, int] = field(default_factory=dict)
    # Labels the bridge mixes: the tail of a 1000-way softmax is noise that pulls every image
    # towards the same average label-name vector.
    bridge_top_k: int = 10
    haarcascade_dir: Path = Path("/usr/share/opencv4/haarcascades")
    # The "faces" detector: dlib's HOG (its boxes are what the face descriptor is trained on)
    # or OpenCV's Haar cascade.
    face_detector: FaceDetectorChoice = "hog"
    # Where the bridge's label-name vectors are stored per text-model version
    # (inference.label_vectors); None computes them once per router.
    label_vectors_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: SettingsLike, **overrides: Any) -> InferenceConfig:
        """The config ``app.core.settings.Settings`` describes (read by attribute: no app import)."""
        whisper = settings.whisper_model
        if whisper not in WHISPER_MODELS:
            raise ModelNotConfiguredError(
                f"whisper_model must be one of {sorted(WHISPER_MODELS)}, not {whisper!r}"
            )
        values: dict[str, Any] = {
            "url": settings.inference_url,
            "whisper_model": whisper,
            "clip_model_dir": settings.clip_model_dir,
            "label_vectors_dir": settings.data_dir / "model-cache" / "label-vectors",
        }
        budget = settings.cpu_budget or os.cpu_count() or 1
        # One budget for every model call of the process: the local backend runs at most
        # ``budget`` one-thread calls side by side, and whisper (whose CTranslate2 pool does not
        # busy-wait) takes up to two of the slots for its two threads.
        # MiniLM batches run one per core: the batcher splits a full queue over them.
        values.update(
            threads=budget,
            cpu_budget=budget,
            whisper_threads=min(2, budget),
            max_concurrency={MINILM_FP32.name: budget},
        )
        values.update(overrides)
        return cls(**values)

    def local_options(self) -> LocalOptions:
        """What the local runners are told."""
        return LocalOptions(
            cpu_threads=self.cpu_threads,
            whisper_threads=self.whisper_threads,
            clip_model_dir=self.clip_model_dir,
            haarcascade_dir=self.haarcascade_dir,
        )

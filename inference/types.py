"""Typed results the router returns to pipeline stages; each carries the model that made it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inference.registry import ModelRef


@dataclass(frozen=True, slots=True)
class Embeddings:
    """One L2-normalised vector per input, in input order: ``vectors`` is (N, dim) float32."""

    vectors: npt.NDArray[np.float32]
    model: ModelRef

    @property
    def dim(self) -> int:
        """Vector size."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


@dataclass(frozen=True, slots=True)
class Word:
    """A word with its time span in seconds from the start of the audio."""

    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True, slots=True)
class Segment:
    """A transcript segment (roughly a phrase) and its words."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    # Whisper's mean token log-probability of the segment and its no-speech probability
    # (defaults: a segment whose model gives neither counts as confident).
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0

    @property
    def mean_word_probability(self) -> float | None:
        """Mean probability of the segment's words, or None without words.

        Unlike ``avg_logprob`` and ``no_speech_prob``, which faster-whisper reports once per
        30 s decoding window (every segment of a window carries the same values), this is the
        segment's own: each word's probability comes from the alignment of that word's tokens."""
        if not self.words:
            return None
        return sum(w.probability for w in self.words) / len(self.words)


@dataclass(frozen=True, slots=True)
class Transcript:
    """Speech recognised in one audio track."""

    language: str
    language_probability: float
    segments: tuple[Segment, ...]
    model: ModelRef

    @property
    def text(self) -> str:
        """All segments joined with spaces."""
        return " ".join(s.text for s in self.segments if s.text)

    @property
    def words(self) -> tuple[Word, ...]:
        """Every word, in time order."""
        return tuple(w for s in self.segments for w in s.words)


@dataclass(frozen=True, slots=True)
class TextRegion:
    """A line of text found in an image: quadrilateral corners (x, y) clockwise from top-left."""

    text: str
    score: float
    polygon: tuple[tuple[float, float], ...]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounding box as x, y, width, height."""
        xs = [p[0] for p in self.polygon]
        ys = [p[1] for p in self.polygon]
        return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


@dataclass(frozen=True, slots=True)
class OcrResult:
    """Text lines in one image, top to bottom as the detector returns them."""

    regions: tuple[TextRegion, ...]
    model: ModelRef

    @property
    def text(self) -> str:
        """Lines joined with newlines."""
        return "\n".join(r.text for r in self.regions)


@dataclass(frozen=True, slots=True)
class Label:
    """An ImageNet class and its softmax probability."""

    index: int
    name: str
    score: float


@dataclass(frozen=True, slots=True)
class Labels:
    """Top classes of one image, best first."""

    labels: tuple[Label, ...]
    model: ModelRef


@dataclass(frozen=True, slots=True)
class Face:
    """A face box in pixels of the input image, with a monotone (not calibrated) score."""

    x: float
    y: float
    width: float
    height: float
    score: float


@dataclass(frozen=True, slots=True)
class Faces:
    """Faces found in one image."""

    faces: tuple[Face, ...]
    model: ModelRef


@dataclass(frozen=True, slots=True)
class FaceDescriptors:
    """One 128-d descriptor per requested face box, in request order (Euclidean distance
    under 0.6: the same person)."""

    vectors: npt.NDArray[np.float32]
    model: ModelRef

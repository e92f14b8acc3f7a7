"""Quality measures shared by the tests and the model benchmarks."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt


@functools.cache
def _whisper_normaliser() -> Callable[[str], str]:
    # Whisper's own English normaliser (the one its published WERs use), from the pinned
    # transformers; imported on first use, since transformers takes seconds to import. The
    # British-to-American spelling table it is usually given ships with the tokenizer files of
    # the hub, not with the package: without it, spellings count as they are written.
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    # transformers leaves EnglishTextNormalizer.__init__ unannotated.
    normaliser: Callable[[str], str] = EnglishTextNormalizer({})  # type: ignore[no-untyped-call]
    return normaliser


def normalise_words(text: str) -> list[str]:
    """What a word error rate compares: Whisper's English normalisation (lower case, no
    punctuation or accents, contractions expanded, numbers as digits, fillers dropped), split."""
    return _whisper_normaliser()(text).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by Levenshtein alignment."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)


def cosine(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> float:
    """Cosine similarity of two vectors."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))

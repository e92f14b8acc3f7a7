"""The word error rate the benchmarks and tests judge transcripts by."""

from __future__ import annotations

import pytest

from inference.quality import normalise_words, word_error_rate


def test_writing_conventions_are_not_errors() -> None:
    # Case, punctuation, contractions and number forms differ; the words do not.
    reference = "They have three books and twenty five pens, isn't it?"
    hypothesis = "they've 3 books and 25 pens is not it"
    assert normalise_words(reference) == normalise_words(hypothesis)
    assert word_error_rate(reference, hypothesis) == 0.0


def test_misheard_missing_and_extra_words_count() -> None:
    reference = "The boat carried food and water to the island."
    # "boat" -> "moat" (substitution), "the" dropped (deletion), "again" added (insertion).
    hypothesis = "The moat carried food and water to island again."
    assert word_error_rate(reference, hypothesis) == pytest.approx(3 / 9)
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "words") == 1.0

"""Language identification with the model shipped in py3langid's wheel."""

from __future__ import annotations

import pytest

from inference.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The quick brown fox jumps over the lazy dog. She sells fresh bread every morning.", "en"),
        ("Der schnelle braune Fuchs springt über den faulen Hund. Sie verkauft jeden Morgen Brot.", "de"),
        ("Le renard brun rapide saute par-dessus le chien paresseux.", "fr"),
    ],
)
def test_sentences_are_identified(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "BREAKING NEWS", "hello", "12:30 -- 4:5 !!", "Sea view poster"])
def test_too_little_text_stays_undecided(text: str) -> None:
    # Each of these is classified with probability < 0.8 or has too few letters: no guess.
    assert detect_language(text) is None

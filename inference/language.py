"""Which language a text is written in: py3langid (langid.py's naive Bayes classifier over
byte n-grams, 97 languages; its model ships inside the wheel, nothing is downloaded).

A guess on too little text is worse than none: a caption of two words or a short title is
often scored for the wrong language, so such texts get None and the asset keeps its
language unset rather than wrong.
"""

from __future__ import annotations

import functools
import threading

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Fewer letters than this say too little about the language (measured: "BREAKING NEWS" scores
# English at 0.39, "hello" Breton at 0.07; full sentences score 0.89-0.99).
MIN_LETTERS = 20
# The normalised probability of the best language below which the text is left undecided.
MIN_PROBABILITY = 0.8
# Beyond this many characters the answer no longer changes; classifying a whole book is waste.
MAX_CHARS = 20_000

_LOCK = threading.Lock()


@functools.cache
def _identifier() -> LanguageIdentifier:
    # Loading the model takes about 3 s on this CPU: once per process, and never twice at once.
    with _LOCK:
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the language ``text`` is written in, or None when the text is too
    short or the classifier is unsure (blocking: call it off the event loop)."""
    sample = text[:MAX_CHARS]
    if sum(char.isalpha() for char in sample) < MIN_LETTERS:
        return None
    language, probability = _identifier().classify(sample)
    return str(language) if float(probability) >= MIN_PROBABILITY else None

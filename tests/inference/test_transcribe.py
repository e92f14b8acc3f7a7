"""Speech to text on espeak-ng speech: accuracy, word timings, the planted pause."""

from __future__ import annotations

import itertools

import pytest

from inference.config import InferenceConfig
from inference.local import ModelPool
from inference.quality import word_error_rate
from inference.router import InferenceRouter
from tests.fixtures.media import SpeechClip

pytestmark = pytest.mark.models


# Thresholds from the analysis issue; measured values are in docs/models.md.
@pytest.mark.parametrize(("whisper", "max_wer"), [("tiny.en", 0.35), ("base", 0.15)])
async def test_transcript_accuracy_timings_and_pause(
    model_pool: ModelPool, speech: SpeechClip, whisper: str, max_wer: float
) -> None:
    router = InferenceRouter(InferenceConfig(whisper_model=whisper), pool=model_pool)  # type: ignore[arg-type]
    try:
        await router.warmup(["transcribe"])
        transcript = await router.transcribe(speech.audio)
    finally:
        await router.aclose()

    assert transcript.model == router.model_for("transcribe").ref
    assert transcript.language == "en"
    assert word_error_rate(speech.text, transcript.text) <= max_wer, transcript.text
    # Speed is the benchmarks' business (`mediakg models bench`, docs/benchmarks.md): a wall-clock
    # bound here failed on a loaded CI machine (25 s for 8.4 s of audio) with nothing wrong.

    words = transcript.words
    assert len(words) >= 12
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(w.start <= w.end for w in words)
    assert all(a.end <= b.start + 0.05 for a, b in itertools.pairwise(words))
    assert words[0].start >= 0.0
    assert words[-1].end <= speech.duration + 0.05
    for segment in transcript.segments:
        assert all(segment.start - 0.05 <= w.start and w.end <= segment.end + 0.05 for w in segment.words)

    # The 2 s SSML break (measured from signal energy at pause_start..pause_end) lies between two
    # words. Whisper stretches a phrase's last word by up to ~0.5 s (0.52 s measured with tiny.en
    # on this fixture), hence the margins. Whether the two phrases also come as two segments is
    # the VAD's and the model's choice (tiny.en gives one segment on some CPUs): the word
    # timings are what search time codes use, so they are what is checked.
    assert speech.pause_end - speech.pause_start > 1.5
    middle = (speech.pause_start + 0.6, speech.pause_end - 0.6)
    assert not any(w.start < middle[1] and w.end > middle[0] for w in words)
    gaps = [
        (a, b)
        for a, b in itertools.pairwise(words)
        if b.start - a.end >= 1.0 and a.end <= middle[0] and b.start >= middle[1]
    ]
    assert len(gaps) == 1
    before, after = gaps[0]
    spoken_before = " ".join(w.text for w in words if w.end <= before.end).lower()
    spoken_after = " ".join(w.text for w in words if w.start >= after.start).lower()
    assert "fox" in spoken_before
    assert "morning" in spoken_after

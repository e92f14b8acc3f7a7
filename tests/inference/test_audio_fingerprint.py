"""The audio near-duplicate rule on generated episodes (tests/fixtures/audio_episodes.py): both
re-encodes of episode A are found, a lead-in trimmed by a second still is, and episode B, which
shares A's three-second jingle and nothing else, is not."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from inference.audio_fingerprint import (
    AUDIO_NEAR_DUPLICATE_THRESHOLD,
    Fingerprint,
    available,
    compare,
    fingerprint_file,
)
from tests.fixtures.audio_episodes import RATE, Episodes, make_episodes, write_wav
from tests.fixtures.media import espeak_available
from tests.fixtures.required import skip_unless_required


@pytest.fixture(scope="module")
def episodes(tmp_path_factory: pytest.TempPathFactory) -> Episodes:
    if not available():
        skip_unless_required("fpcalc is not installed (libchromaprint-tools; scripts/install-system-deps.sh)")
    if not espeak_available():
        skip_unless_required("espeak-ng is not installed (scripts/install-system-deps.sh)")
    return make_episodes(tmp_path_factory.mktemp("episodes"))


@pytest.fixture(scope="module")
def prints(episodes: Episodes) -> dict[str, Fingerprint]:
    return {name: fingerprint_file(getattr(episodes, name)) for name in ("a", "b", "a_aac", "a_mp3")}


def _trimmed(source: Path, target: Path, seconds: float) -> Path:
    with wave.open(str(source), "rb") as f:
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    return write_wav(target, pcm[int(seconds * RATE) :].astype(np.float32) / 32768.0)


def test_re_encodes_are_duplicates(prints: dict[str, Fingerprint]) -> None:
    for copy in ("a_aac", "a_mp3"):
        match = compare(prints["a"], prints[copy])
        assert match.score >= 0.95, (copy, match)
        assert match.bit_error_rate <= 0.1, (copy, match)
    assert compare(prints["a_aac"], prints["a_mp3"]).score >= 0.95


def test_episodes_sharing_a_jingle_are_not(prints: dict[str, Fingerprint]) -> None:
    for copy in ("a", "a_aac", "a_mp3"):
        match = compare(prints[copy], prints["b"])
        assert match.score < AUDIO_NEAR_DUPLICATE_THRESHOLD / 2, (copy, match)
        # The jingle itself is found (3 s of tones, aligned at the start), and nothing else.
        assert 2.0 <= match.matched_s <= 4.0, (copy, match)
        assert match.shift_s == 0.0


def test_a_trimmed_lead_in_is_still_a_duplicate(
    episodes: Episodes, tmp_path: Path, prints: dict[str, Fingerprint]
) -> None:
    trimmed = fingerprint_file(_trimmed(episodes.a, tmp_path / "trimmed.wav", 1.0))
    match = compare(prints["a_aac"], trimmed)
    assert match.score >= AUDIO_NEAR_DUPLICATE_THRESHOLD, match
    assert match.shift_s == pytest.approx(-1.0, abs=0.15)


def test_fingerprints_round_trip_through_bytes(prints: dict[str, Fingerprint]) -> None:
    a = prints["a"]
    back = Fingerprint.from_bytes(a.duration_s, a.to_bytes())
    assert np.array_equal(back.values, a.values)
    assert len(a.to_bytes()) == 4 * len(a.values)

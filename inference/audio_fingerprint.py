"""Chromaprint audio fingerprints (Debian's ``fpcalc``) and the length-aware audio
near-duplicate rule.

A raw Chromaprint fingerprint is one 32-bit value per ~0.124 s of audio (``ITEM_SECONDS``),
each bit a sign of a filtered chroma feature; the same audio re-encoded keeps most bits, other
audio differs in about half of them.

The rule (``compare``) is length-aware like the video rule: the two fingerprints are aligned
at the best offset within ``MAX_SHIFT_SECONDS`` (a trimmed lead-in or an encoder delay); an
aligned item matches when the bit-error rate of the ``WINDOW_ITEMS`` around it is at most
``MAX_BIT_ERROR_RATE``; the score is the matched items divided by the items of the LONGER
fingerprint. So a re-encode of a podcast matches nearly all of both, while two episodes that
share a three-second jingle match three seconds of a minute. A pair is a near-duplicate at or
above ``AUDIO_NEAR_DUPLICATE_THRESHOLD``: the overlap covers most of both durations.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

UInt32Array = npt.NDArray[np.uint32]

FPCALC = "fpcalc"
# Chromaprint's default algorithm (2): 11025 Hz, a 4096-sample frame every 1365 samples,
# i.e. one value per 1365 / 11025 s.
ITEM_SECONDS = 1365 / 11025
ALGORITHM = "chromaprint-2"
MAX_SHIFT_SECONDS = 2.0
# One second of items around each aligned item: single items flip bits in quiet passages.
WINDOW_ITEMS = 8
# Re-encodes measured 0.02-0.09 windowed bit-error rate, unrelated speech 0.36-0.50
# (docs/models.md, "Audio near-duplicates").
MAX_BIT_ERROR_RATE = 0.25
AUDIO_NEAR_DUPLICATE_THRESHOLD = 0.8
# fpcalc's run time bound per file (decoding is faster than real time by far).
TIMEOUT_S = 300.0


class FingerprintError(RuntimeError):
    """fpcalc is missing, or could not read the file."""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A raw Chromaprint fingerprint and the duration of the audio it covers."""

    duration_s: float
    values: UInt32Array

    def to_bytes(self) -> bytes:
        """Little-endian uint32 values (how the database stores them)."""
        return self.values.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, duration_s: float, data: bytes) -> Fingerprint:
        """The fingerprint ``to_bytes`` wrote."""
        return cls(duration_s, np.frombuffer(data, dtype="<u4").astype(np.uint32))


def available() -> bool:
    """Whether fpcalc is installed (libchromaprint-tools)."""
    return shutil.which(FPCALC) is not None


def fingerprint_file(path: Path) -> Fingerprint:
    """The fingerprint of the whole sound track of ``path`` (audio, or a video's sound)."""
    executable = shutil.which(FPCALC)
    if executable is None:
        raise FingerprintError("fpcalc is not installed (Debian package libchromaprint-tools)")
    try:
        done = subprocess.run(
            [executable, "-raw", "-json", "-length", "0", str(path)],
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise FingerprintError(f"fpcalc took longer than {TIMEOUT_S:.0f} s") from exc
    # fpcalc reports the decoder's "End of file" on stderr and still exits 0 with a result.
    try:
        data = json.loads(done.stdout)
        values = np.asarray(data["fingerprint"], dtype=np.uint32)
        duration = float(data["duration"])
    except (ValueError, KeyError, TypeError) as exc:
        message = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise FingerprintError(f"fpcalc could not fingerprint the sound: {message[0]}") from exc
    return Fingerprint(duration, values)


@dataclass(frozen=True, slots=True)
class AudioMatch:
    """How two fingerprints line up: the score, the matched seconds, the offset of b against a,
    and the mean bit-error rate over the matched items."""

    score: float
    matched_s: float
    shift_s: float
    bit_error_rate: float


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _bit_errors(a: UInt32Array, b: UInt32Array) -> npt.NDArray[np.float64]:
    """Differing bits per aligned pair of values."""
    x = np.bitwise_xor(a, b).view(np.uint8).reshape(-1, 4)
    counts: npt.NDArray[np.float64] = _POPCOUNT[x].sum(axis=1).astype(np.float64)
    return counts


def compare(a: Fingerprint, b: Fingerprint) -> AudioMatch:
    """The length-aware score of two fingerprints (see the module docstring)."""
    longest = max(len(a.values), len(b.values))
    if longest == 0 or len(a.values) == 0 or len(b.values) == 0:
        return AudioMatch(0.0, 0.0, 0.0, 1.0)
    max_shift = round(MAX_SHIFT_SECONDS / ITEM_SECONDS)
    kernel = np.ones(WINDOW_ITEMS) / WINDOW_ITEMS
    best = AudioMatch(0.0, 0.0, 0.0, 1.0)
    for shift in range(-max_shift, max_shift + 1):
        # Item i of a against item i + shift of b.
        start, stop = max(0, -shift), min(len(a.values), len(b.values) - shift)
        if stop - start <= 0:
            continue
        errors = _bit_errors(a.values[start:stop], b.values[start + shift : stop + shift]) / 32.0
        windowed = np.convolve(errors, kernel, mode="same") if len(errors) >= WINDOW_ITEMS else errors
        matched = windowed <= MAX_BIT_ERROR_RATE
        score = float(matched.sum()) / longest
        if score > best.score:
            rate = float(errors[matched].mean()) if matched.any() else 1.0
            best = AudioMatch(score, float(matched.sum()) * ITEM_SECONDS, shift * ITEM_SECONDS, rate)
    return best

"""Quality-aware routing: which model a queue gets, which segments escalate, which result is kept."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.core.routing_policy import TranscribeRouting
from inference.benchsets import HELD_OUT_CLIPS, RoutingClip, routing_clips
from inference.config import InferenceConfig
from inference.local import ModelPool
from inference.registry import SAMPLE_RATE, WHISPER_BASE, WHISPER_TINY_EN, ModelSpec, default_registry
from inference.router import InferenceRouter
from inference.routing import EscalationRule, TranscribeRoute, route_for_queue, transcribe_routed
from inference.types import Segment, Transcript, Word
from tests.inference.conftest import _require_espeak

CALIBRATION = Path(__file__).resolve().parents[2] / "inference" / "calibration" / "transcribe.json"


def test_the_default_thresholds_are_the_calibrated_ones() -> None:
    calibrated = json.loads(CALIBRATION.read_text())
    defaults = TranscribeRouting()
    assert defaults.escalate_below_logprob == calibrated["min_avg_logprob"]
    assert defaults.escalate_above_no_speech == calibrated["max_no_speech_prob"]
    assert defaults.escalate_below_word_probability == calibrated["min_word_probability"]
    # The rule keeps to its clean budget on the audio it was chosen on.
    assert calibrated["calibration"]["clean_share"] <= calibrated["clean_budget"]


def test_the_calibrated_shares_are_what_the_service_rule_flags() -> None:
    # The recorded first-pass segments, flagged by the rule the stage runs, re-run the shares
    # the calibration reports: the calibration measured that rule, not another one.
    calibrated = json.loads(CALIBRATION.read_text())
    rule = EscalationRule(
        calibrated["min_avg_logprob"], calibrated["max_no_speech_prob"], calibrated["min_word_probability"]
    )
    assert (
        rule
        == route_for_queue(default_registry(), TranscribeRouting(), "realtime", default_model="tiny.en").rule
    )
    for part in ("calibration", "held_out"):
        segments = [
            # One word carrying the segment's mean word probability (none: a segment without words).
            Segment(
                0.0,
                seconds,
                "",
                () if words is None else (Word("", 0.0, seconds, words),),
                avg_logprob=logprob,
                no_speech_prob=no_speech,
            )
            for logprob, no_speech, words, seconds, _ in calibrated["segments"][part]
        ]
        for noisy in (False, True):
            heard = [
                s for s, row in zip(segments, calibrated["segments"][part], strict=True) if row[4] is noisy
            ]
            share = sum(s.end for s in heard if rule.flags(s)) / (sum(s.end for s in heard) or 1.0)
            recorded = calibrated[part]["noisy_share" if noisy else "clean_share"]
            assert round(share, 3) == pytest.approx(recorded, abs=0.002), (part, noisy)


def test_realtime_gets_the_fast_model_and_escalation_batch_the_accurate_one() -> None:
    registry = default_registry()
    policy = TranscribeRouting()
    realtime = route_for_queue(registry, policy, "realtime", default_model="tiny.en")
    assert (realtime.model, realtime.escalate_to, realtime.escalates) == (WHISPER_TINY_EN, WHISPER_BASE, True)
    batch = route_for_queue(registry, policy, "batch", default_model="tiny.en")
    # The batch model is already the accurate one: nothing to escalate to.
    assert (batch.model, batch.escalates) == (WHISPER_BASE, False)
    off = route_for_queue(
        registry, policy.model_copy(update={"escalate_to": ""}), "realtime", default_model="base"
    )
    assert (off.model, off.escalates) == (WHISPER_BASE, False)


def _segment(start: float, end: float, text: str, logprob: float, no_speech: float = 0.0) -> Segment:
    return Segment(start, end, text, (), avg_logprob=logprob, no_speech_prob=no_speech)


def test_the_words_mean_probability_flags_a_segment_the_window_scores_did_not() -> None:
    rule = EscalationRule(min_avg_logprob=-0.6, max_no_speech_prob=0.5, min_word_probability=0.7)
    words = (Word("quick", 0.0, 0.5, 0.9), Word("round", 0.5, 1.0, 0.4))
    unsure = Segment(0.0, 1.0, "quick round", words, avg_logprob=-0.4, no_speech_prob=0.1)
    assert unsure.mean_word_probability == pytest.approx(0.65)
    assert rule.flags(unsure)
    sure = replace(unsure, words=(words[0], replace(words[1], probability=0.8)))
    assert not rule.flags(sure)
    # Without words the window scores decide; 0 switches the word test off.
    assert not rule.flags(replace(unsure, words=()))
    assert not replace(rule, min_word_probability=0.0).flags(unsure)
    assert rule.describe() == (
        "segment mean word probability < 0.7 or avg_logprob < -0.6 or no_speech_prob > 0.5"
    )
    off = EscalationRule(min_avg_logprob=-math.inf, max_no_speech_prob=1.0, min_word_probability=0.75)
    assert off.describe() == "segment mean word probability < 0.75"


@dataclass
class ScriptedTranscriber:
    """Answers the fast model with fixed segments and the accurate one with one segment per call."""

    fast: tuple[Segment, ...]
    accurate_logprob: float
    calls: list[tuple[str, float]]

    async def transcribe(
        self, audio: npt.NDArray[np.float32], *, model: ModelSpec | None = None
    ) -> Transcript:
        assert model is not None
        seconds = audio.size / SAMPLE_RATE
        self.calls.append((model.name, seconds))
        if model == WHISPER_TINY_EN:
            segments = self.fast
        else:
            segments = (_segment(0.2, seconds - 0.2, "accurate words", self.accurate_logprob),)
        return Transcript("en", 1.0, segments, model.ref)


ROUTE = TranscribeRoute(
    WHISPER_TINY_EN, WHISPER_BASE, EscalationRule(min_avg_logprob=-0.6, max_no_speech_prob=0.5, pad_s=0.3)
)
FAST = (
    _segment(0.0, 2.0, "sure one", -0.2),
    _segment(3.0, 4.0, "unsure one", -0.9),
    _segment(4.0, 5.0, "noise", -0.3, no_speech=0.8),
    _segment(7.0, 8.0, "sure two", -0.3),
)


async def test_only_the_flagged_spans_are_re_run_and_the_better_reading_replaces_them() -> None:
    transcriber = ScriptedTranscriber(FAST, accurate_logprob=-0.4, calls=[])
    routed = await transcribe_routed(transcriber, np.zeros(9 * SAMPLE_RATE, dtype=np.float32), ROUTE)
    # The two adjacent flagged segments are one padded span, 2.7 to 5.3 s.
    assert transcriber.calls == [("whisper-tiny.en", 9.0), ("whisper-base", pytest.approx(2.6))]
    assert (routed.flagged_segments, routed.replaced_segments) == (2, 2)
    assert routed.escalated_s == pytest.approx(2.6)
    kept = [(offset + s.start, s.text, t.model.name) for offset, t in routed.pieces for s in t.segments]
    assert sorted(kept) == [
        (0.0, "sure one", "whisper-tiny.en"),
        (pytest.approx(2.9), "accurate words", "whisper-base"),
        (7.0, "sure two", "whisper-tiny.en"),
    ]
    # The escalated span sits between two kept first-pass segments: the text is in time order.
    assert routed.text == "sure one accurate words sure two"
    assert routed.model == WHISPER_TINY_EN.ref
    assert set(routed.runs) == {WHISPER_TINY_EN.key, WHISPER_BASE.key}


async def test_a_worse_accurate_reading_keeps_the_fast_one() -> None:
    transcriber = ScriptedTranscriber(FAST, accurate_logprob=-1.5, calls=[])
    routed = await transcribe_routed(transcriber, np.zeros(9 * SAMPLE_RATE, dtype=np.float32), ROUTE)
    assert (routed.flagged_segments, routed.replaced_segments) == (2, 0)
    assert [t.model for _, t in routed.pieces] == [WHISPER_TINY_EN.ref]
    assert [s.text for s in routed.pieces[0][1].segments] == ["sure one", "unsure one", "noise", "sure two"]


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[RoutingClip, RoutingClip]:
    """A held-out clip of the calibration (never used to choose the thresholds), clean and noisy."""
    _require_espeak()
    clean, noisy = routing_clips(tmp_path_factory.mktemp("routing"), HELD_OUT_CLIPS[1:2], prefix="held")
    return clean[0], noisy[0]


@pytest.mark.models
async def test_escalation_triggers_on_noisy_speech_and_not_on_clean(
    model_pool: ModelPool, held_out: tuple[RoutingClip, RoutingClip]
) -> None:
    clean, noisy = held_out
    route = route_for_queue(default_registry(), TranscribeRouting(), "realtime", default_model="tiny.en")
    router = InferenceRouter(InferenceConfig(), pool=model_pool)
    try:
        quiet = await transcribe_routed(router, clean.audio, route)
        loud = await transcribe_routed(router, noisy.audio, route)
    finally:
        await router.aclose()
    assert (quiet.flagged_segments, quiet.escalated_s) == (0, 0.0)
    assert set(quiet.runs) == {WHISPER_TINY_EN.key}
    assert loud.flagged_segments >= 1
    assert loud.escalated_share > 0.7
    assert set(loud.runs) == {WHISPER_TINY_EN.key, WHISPER_BASE.key}

"""The routing-policy benchmark: WER, latency and cost of each way to route speech, one table each.

Policies, on the held-out speech clips of :mod:`inference.benchsets` (clean espeak-ng, and the
same mixed with white noise at ``NOISE_SNR_DB`` from a fixed seed):

- ``fast-only``: whisper tiny.en;
- ``accurate-only``: whisper base;
- ``fast+escalation``: tiny.en's result first, then its low-confidence spans re-run on base
  (:func:`inference.routing.escalate`, the calibrated default rule), as the service's
  ESCALATION follow-up job does;
- ``fast+upgrade``: tiny.en's result first, then base over the whole clip replaces it.

Per policy and set: WER of the final transcript, p50 time to the first result and to the final
one (one clip, the stage's model time), CPU-seconds per audio minute (process CPU time: every
thread of the models counts) and the share of audio the accurate model re-ran.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.benchsets import HELD_OUT_CLIPS, NOISE_SNR_DB, RoutingClip, routing_clips
from inference.quality import word_error_rate
from inference.registry import SAMPLE_RATE, WHISPER_BASE, WHISPER_TINY_EN
from inference.routing import EscalationRule, Transcriber, TranscribeRoute, escalate

POLICIES = ("fast-only", "accurate-only", "fast+escalation", "fast+upgrade")


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One policy on one fixture set."""

    policy: str
    fixtures: str
    clips: int
    wer: float
    p50_first_s: float
    p50_final_s: float
    cpu_s_per_audio_min: float
    rerun_share: float


@dataclass(frozen=True, slots=True)
class _Clip:
    text: str
    first_s: float
    final_s: float
    cpu_s: float
    audio_s: float
    rerun_s: float


async def _one(
    router: Transcriber, policy: str, audio: npt.NDArray[np.float32], rule: EscalationRule
) -> tuple[str, float, float, float]:
    """(final text, seconds to the first result, seconds to the final one, seconds re-run)."""
    started = time.perf_counter()
    if policy == "accurate-only":
        text = (await router.transcribe(audio, model=WHISPER_BASE)).text
        elapsed = time.perf_counter() - started
        return text, elapsed, elapsed, 0.0
    first_pass = await router.transcribe(audio, model=WHISPER_TINY_EN)
    fast = first_pass.text
    first = time.perf_counter() - started
    if policy == "fast+escalation":
        # The service's default (escalation: followup): the realtime job writes the fast pass,
        # its ESCALATION job re-runs the flagged spans afterwards (jobs.stages.transcribe).
        routed = await escalate(
            router, audio, first_pass, TranscribeRoute(WHISPER_TINY_EN, WHISPER_BASE, rule)
        )
        return routed.text, first, time.perf_counter() - started, routed.escalated_s
    if policy == "fast-only":
        return fast, first, first, 0.0
    upgraded = (await router.transcribe(audio, model=WHISPER_BASE)).text
    return upgraded, first, time.perf_counter() - started, audio.size / SAMPLE_RATE


async def _measure(
    router: Transcriber, policy: str, clips: Sequence[RoutingClip], rule: EscalationRule
) -> list[_Clip]:
    measured = []
    for clip in clips:
        cpu = time.process_time()
        text, first, final, rerun = await _one(router, policy, clip.audio, rule)
        measured.append(
            _Clip(text, first, final, time.process_time() - cpu, clip.audio.size / SAMPLE_RATE, rerun)
        )
    return measured


def _row(policy: str, fixtures: str, clips: Sequence[RoutingClip], measured: Sequence[_Clip]) -> PolicyRow:
    reference = " ".join(c.text for c in clips)
    hypothesis = " ".join(m.text for m in measured)
    audio = sum(m.audio_s for m in measured)
    return PolicyRow(
        policy=policy,
        fixtures=fixtures,
        clips=len(clips),
        wer=word_error_rate(reference, hypothesis),
        p50_first_s=statistics.median(m.first_s for m in measured),
        p50_final_s=statistics.median(m.final_s for m in measured),
        cpu_s_per_audio_min=sum(m.cpu_s for m in measured) / (audio / 60.0),
        rerun_share=sum(m.rerun_s for m in measured) / audio,
    )


async def run_policy_bench(
    router: Transcriber, rule: EscalationRule, *, policies: Sequence[str] = POLICIES
) -> list[PolicyRow]:
    """Every policy on the clean and the noisy held-out clips (needs espeak-ng)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="mediakg-routing-bench-") as scratch:
        clean, noisy = routing_clips(Path(scratch), HELD_OUT_CLIPS, prefix="held")
        # Load both models before any clock starts.
        await router.transcribe(clean[0].audio, model=WHISPER_TINY_EN)
        await router.transcribe(clean[0].audio, model=WHISPER_BASE)
        for policy in policies:
            for fixtures, clips in (("clean", clean), (f"noisy {NOISE_SNR_DB:g} dB", noisy)):
                rows.append(_row(policy, fixtures, clips, await _measure(router, policy, clips, rule)))
    return rows


def to_markdown(rows: Sequence[PolicyRow]) -> str:
    """One markdown table per policy."""
    out: list[str] = []
    for policy in dict.fromkeys(r.policy for r in rows):
        out += [
            f"### {policy}",
            "",
            "| fixtures | clips | WER | p50 first result (s) | p50 final result (s) "
            "| CPU-s per audio min | audio re-run |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        out += [
            f"| {r.fixtures} | {r.clips} | {r.wer:.3f} | {r.p50_first_s:.2f} | {r.p50_final_s:.2f} "
            f"| {r.cpu_s_per_audio_min:.1f} | {r.rerun_share:.0%} |"
            for r in rows
            if r.policy == policy
        ]
        out.append("")
    return "\n".join(out)

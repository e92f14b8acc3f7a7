"""Quality-aware routing of speech: a fast model first, the accurate one where the fast one is unsure.

A :class:`TranscribeRoute` names the first-pass model and, optionally, the model low-confidence
segments escalate to and the :class:`EscalationRule` that says which segments are low-confidence
(the mean probability of the segment's words, and Whisper's mean token log-probability and
no-speech probability of its decoding window; the thresholds are calibrated on the speech
fixtures by ``scripts/calibrate_routing.py``, whose output is
``inference/calibration/transcribe.json``).

:func:`transcribe_routed` runs the first pass, re-runs only the flagged spans (merged when
adjacent, padded a little so no word is cut) on the accurate model, and keeps, span by span,
the result with the higher mean log-probability. Every returned piece carries the model that
produced it, so each stored row can name its own model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from inference.errors import UnknownModelError
from inference.registry import SAMPLE_RATE, ModelRef, ModelRegistry, ModelSpec, Task
from inference.types import Segment, Transcript

# Short names the settings accept besides registry names and keys.
_ALIASES = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}


class Confidence(Protocol):
    """What the escalation rule reads of a segment (a ``Segment``, or a calibration observation)."""

    @property
    def avg_logprob(self) -> float: ...

    @property
    def no_speech_prob(self) -> float: ...

    @property
    def mean_word_probability(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """When a first-pass segment counts as low-confidence."""

    # Escalate a segment whose window's mean token log-probability is below this (-inf: never) ...
    min_avg_logprob: float
    # ... or whose window's no-speech probability is above this (1: never; whisper hears noise,
    # not words) ...
    max_no_speech_prob: float
    # ... or whose words' mean probability is below this (0: not read; a segment without words
    # is judged by the other two).
    min_word_probability: float = 0.0
    # Seconds added on each side of a re-run span: segment bounds are the model's guess and a
    # word cut in half is a word lost.
    pad_s: float = 0.3

    def flags(self, segment: Confidence) -> bool:
        """True when ``segment`` should be re-run on the accurate model."""
        words = segment.mean_word_probability
        return (
            segment.avg_logprob < self.min_avg_logprob
            or segment.no_speech_prob > self.max_no_speech_prob
            or (words is not None and words < self.min_word_probability)
        )

    def describe(self) -> str:
        """The rule in words (status pages)."""
        tests = []
        if self.min_word_probability > 0:
            tests.append(f"mean word probability < {self.min_word_probability:g}")
        if self.min_avg_logprob > -math.inf:
            tests.append(f"avg_logprob < {self.min_avg_logprob:g}")
        if self.max_no_speech_prob < 1:
            tests.append(f"no_speech_prob > {self.max_no_speech_prob:g}")
        return "segment " + " or ".join(tests) if tests else "never"


@dataclass(frozen=True, slots=True)
class TranscribeRoute:
    """Which speech model a job's first pass uses and where its unsure segments go."""

    model: ModelSpec
    escalate_to: ModelSpec | None = None
    rule: EscalationRule | None = None

    @property
    def escalates(self) -> bool:
        """True when low-confidence segments are re-run on another model."""
        return self.escalate_to is not None and self.rule is not None and self.escalate_to != self.model


@dataclass(slots=True)
class ModelRun:
    """What one model did for one routed call: audio seconds it heard and seconds it took."""

    model: str
    calls: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    # Duration-weighted mean confidence (words' mean probability) of this model's kept segments.
    confidence_sum: float = 0.0
    confidence_weight: float = 0.0

    def add(self, other: ModelRun) -> None:
        """Count ``other`` (the same model's run on another window) into this one."""
        self.calls += other.calls
        self.audio_s += other.audio_s
        self.wall_s += other.wall_s
        self.confidence_sum += other.confidence_sum
        self.confidence_weight += other.confidence_weight

    @property
    def mean_confidence(self) -> float | None:
        """Estimated quality of this model's kept output (mean token probability), or None."""
        return self.confidence_sum / self.confidence_weight if self.confidence_weight else None


@dataclass(slots=True)
class RoutedTranscript:
    """A transcript assembled from one or more models: (offset in seconds, transcript) pieces in
    time order, each transcript stamped with the model that produced it."""

    # The first-pass model (what a re-run replaces; escalated pieces name their own).
    model: ModelRef
    pieces: list[tuple[float, Transcript]]
    audio_s: float
    escalated_s: float = 0.0
    flagged_segments: int = 0
    replaced_segments: int = 0
    runs: dict[str, ModelRun] = field(default_factory=dict)

    @property
    def escalated_share(self) -> float:
        """Share of the audio re-run on the accurate model."""
        return self.escalated_s / self.audio_s if self.audio_s else 0.0

    @property
    def text(self) -> str:
        """All kept segments' text in time order."""
        return " ".join(segment.text for _, _, segment in timed_segments(self.pieces) if segment.text)


def timed_segments(pieces: Iterable[tuple[float, Transcript]]) -> list[tuple[float, Transcript, Segment]]:
    """(piece offset, transcript, segment) of every segment of ``pieces``, in time order.

    Segment by segment, not piece by piece: a first pass's kept segments lie before and after
    the spans escalated out of it, so no order of the pieces puts their segments in order."""
    return sorted(
        ((offset, transcript, segment) for offset, transcript in pieces for segment in transcript.segments),
        key=lambda item: item[0] + item[2].start,
    )


class Transcriber(Protocol):
    """What routing needs of the router (``inference.router.InferenceRouter.transcribe``)."""

    async def transcribe(
        self, audio: npt.NDArray[np.float32], *, model: ModelSpec | None = None
    ) -> Transcript: ...


def resolve_model(registry: ModelRegistry, task: Task, value: str) -> ModelSpec:
    """The registry spec a setting names: a short name (``tiny.en``), a model name, or a key."""
    name = _ALIASES.get(value, value)
    spec = registry.get(*name.split(":", 1)) if ":" in name else registry.get(name)
    if spec.task != task:
        raise UnknownModelError(f"{spec.key} is a {spec.task} model, not a {task} one")
    return spec


class TranscribePolicy(Protocol):
    """The transcribe routing settings (``app.core.routing_policy.TranscribeRouting``), read by attribute."""

    realtime: str
    batch: str
    accurate: str
    escalate_to: str
    escalate_below_logprob: float
    escalate_above_no_speech: float
    escalate_below_word_probability: float


def escalation_rule(policy: TranscribePolicy) -> EscalationRule:
    """The policy's rule of which first-pass segments are low-confidence."""
    return EscalationRule(
        min_avg_logprob=policy.escalate_below_logprob,
        max_no_speech_prob=policy.escalate_above_no_speech,
        min_word_probability=policy.escalate_below_word_probability,
    )


def accurate_route(registry: ModelRegistry, policy: TranscribePolicy) -> TranscribeRoute:
    """The route of an ACCURATE job (an upgrade pass): the accurate model over everything."""
    return TranscribeRoute(resolve_model(registry, "transcribe", policy.accurate))


def escalation_route(
    registry: ModelRegistry, policy: TranscribePolicy, first: ModelRef
) -> TranscribeRoute | None:
    """The route of an ESCALATION follow-up over a first pass by ``first``; None when the
    policy escalates nowhere (or to that same model)."""
    if not policy.escalate_to:
        return None
    route = TranscribeRoute(
        registry.get(first.name, first.version),
        escalate_to=resolve_model(registry, "transcribe", policy.escalate_to),
        rule=escalation_rule(policy),
    )
    return route if route.escalates else None


def route_for_queue(
    registry: ModelRegistry, policy: TranscribePolicy, queue: str, *, default_model: str
) -> TranscribeRoute:
    """The route of a job on ``queue``: realtime jobs get the fast model (``default_model`` when
    the policy names none) and escalation; batch jobs the batch model, escalating only when it
    is not already the escalation target."""
    name = policy.batch if queue == "batch" else (policy.realtime or default_model)
    model = resolve_model(registry, "transcribe", name)
    if not policy.escalate_to:
        return TranscribeRoute(model)
    target = resolve_model(registry, "transcribe", policy.escalate_to)
    return TranscribeRoute(model, escalate_to=target, rule=escalation_rule(policy))


def _score(segments: Sequence[Segment]) -> float:
    """Duration-weighted mean log-probability: which of two transcripts of one span is better."""
    weights = [max(s.end - s.start, 0.01) for s in segments]
    return float(np.average([s.avg_logprob for s in segments], weights=weights)) if segments else -np.inf


def _spans(
    flagged: Sequence[Segment], pad_s: float, duration_s: float
) -> list[tuple[float, float, list[Segment]]]:
    """Padded spans covering the flagged segments; overlapping spans merge."""
    spans: list[tuple[float, float, list[Segment]]] = []
    for segment in sorted(flagged, key=lambda s: s.start):
        start, end = max(0.0, segment.start - pad_s), min(duration_s, segment.end + pad_s)
        if spans and start <= spans[-1][1]:
            last = spans[-1]
            spans[-1] = (last[0], max(last[1], end), [*last[2], segment])
        else:
            spans.append((start, end, [segment]))
    return spans


def _run(runs: dict[str, ModelRun], transcript: Transcript, audio_s: float, wall_s: float) -> None:
    run = runs.setdefault(str(transcript.model), ModelRun(str(transcript.model)))
    run.calls += 1
    run.audio_s += audio_s
    run.wall_s += wall_s


def _kept(runs: dict[str, ModelRun], transcript: Transcript, segments: Sequence[Segment]) -> None:
    run = runs.setdefault(str(transcript.model), ModelRun(str(transcript.model)))
    for segment in segments:
        weight = max(segment.end - segment.start, 0.01)
        # The segment's own confidence: its words' mean probability (avg_logprob is one value
        # per 30 s decoding window), else the token probability for a segment without words.
        words = segment.mean_word_probability
        run.confidence_sum += (words if words is not None else float(np.exp(segment.avg_logprob))) * weight
        run.confidence_weight += weight


async def transcribe_routed(
    router: Transcriber, audio: npt.NDArray[np.float32], route: TranscribeRoute
) -> RoutedTranscript:
    """Transcribe ``audio`` the way ``route`` says: the first pass, then (when the route
    escalates) :func:`escalate` over it (see the module docstring)."""
    duration = audio.size / SAMPLE_RATE
    runs: dict[str, ModelRun] = {}
    started = time.perf_counter()
    first = await router.transcribe(audio, model=route.model)
    _run(runs, first, duration, time.perf_counter() - started)
    if not route.escalates:
        _kept(runs, first, first.segments)
        return RoutedTranscript(model=first.model, pieces=[(0.0, first)], audio_s=duration, runs=runs)
    return await escalate(router, audio, first, route, runs=runs)


async def escalate(
    router: Transcriber,
    audio: npt.NDArray[np.float32],
    first: Transcript,
    route: TranscribeRoute,
    *,
    runs: dict[str, ModelRun] | None = None,
) -> RoutedTranscript:
    """Re-run the spans of ``first`` (a first pass over ``audio``, times from its start) that
    ``route``'s rule flags on its accurate model, keeping per span the better reading.

    Inside a realtime stage (``escalation: inline``) or in a follow-up batch job that read the
    fast pass back from its stored rows (``escalation: followup``, ``jobs.stages.transcribe``)."""
    duration = audio.size / SAMPLE_RATE
    runs = {} if runs is None else runs
    result = RoutedTranscript(model=first.model, pieces=[], audio_s=duration, runs=runs)
    rule, target = route.rule, route.escalate_to
    if rule is None or target is None:
        raise ValueError("escalate needs a route with an escalation target and rule")
    flagged = [s for s in first.segments if rule.flags(s)]
    result.flagged_segments = len(flagged)
    replaced: set[int] = set()
    pieces: list[tuple[float, Transcript]] = []
    for start, end, segments in _spans(flagged, rule.pad_s, duration):
        a, b = int(start * SAMPLE_RATE), int(end * SAMPLE_RATE)
        result.escalated_s += (b - a) / SAMPLE_RATE
        started = time.perf_counter()
        second = await router.transcribe(audio[a:b], model=target)
        _run(runs, second, (b - a) / SAMPLE_RATE, time.perf_counter() - started)
        kept = [s for s in second.segments if s.text.strip()]
        # The better of the two readings of the span; an accurate model that hears no words
        # where the fast one heard some does not erase them (VAD may have cut the padded span).
        if kept and _score(kept) >= _score(segments):
            replaced.update(id(s) for s in segments)
            pieces.append((start, second))
            _kept(runs, second, kept)
    result.replaced_segments = sum(1 for s in first.segments if id(s) in replaced)
    remaining = tuple(s for s in first.segments if id(s) not in replaced)
    _kept(runs, first, remaining)
    pieces.append((0.0, replace(first, segments=remaining)))
    result.pieces = sorted(pieces, key=lambda p: p[0] + (p[1].segments[0].start if p[1].segments else 0.0))
    return result

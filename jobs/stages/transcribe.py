"""The transcribe stage: speech to text with word timings (faster-whisper through the router).

Writes one TranscriptSegment per recognised segment: text, language, confidence (the mean
probability of its words), words with start/end/probability in seconds from the asset start,
and the scene it overlaps most. The stage runs beside the scenes stage (it needs only the
audio): segments are linked to the scenes if those are written first, else by the embed stage
(``jobs.stages.common.link_segments``). The asset's language is set from the transcript (identified
from its words by ``inference.language``, else the speech model's own guess). A video
without an audio track gets no segments (and no error): silence is a valid answer.

Long tracks are transcribed in windows of at most ``WINDOW_SECONDS`` cut inside pauses, so
progress (and with it cancellation) is reported between windows and no single model call
outlives a model server's deadline.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import stage_repository
from app.core.enums import JobQuality
from app.jobs.errors import TransientStageError
from app.jobs.pipeline import StageName
from app.media import stage_repository as media_repository
from app.media.models import TranscriptSegment
from app.media.service import replace_segments
from inference import media
from inference.errors import NoAudioStreamError
from inference.language import detect_language
from inference.registry import SAMPLE_RATE, ModelRef
from inference.router import InferenceRouter
from inference.routing import (
    EscalationRule,
    ModelRun,
    TranscribeRoute,
    accurate_route,
    escalate,
    escalation_route,
    route_for_queue,
    timed_segments,
    transcribe_routed,
)
from inference.types import Segment, Transcript, Word
from jobs.registry import StageContext, StageOutput, StageRegistry
from jobs.stages.common import link_segments, permanent_errors, router_of

# Ten minutes: whisper base transcribes that in ~2-4 minutes on 2 cores (RTF 0.2-0.4), well
# inside Triton's transcribe deadline (120 s per call is for tiny.en; see triton_timeouts).
WINDOW_SECONDS = 600.0
MODEL_CHANGED = "MODEL_CHANGED"


def plan_windows(audio: npt.NDArray[np.float32], window_s: float = WINDOW_SECONDS) -> list[tuple[int, int]]:
    """Sample ranges of at most ``window_s`` covering ``audio``, cut in the middle of pauses
    (a hard cut only where a window holds no pause in its second half)."""
    size = audio.size
    limit = int(window_s * SAMPLE_RATE)
    if size <= limit:
        return [(0, size)]
    spans = media.speech_spans(audio)
    pauses = [int((a.end + b.start) / 2 * SAMPLE_RATE) for a, b in itertools.pairwise(spans)]
    windows: list[tuple[int, int]] = []
    start = 0
    while size - start > limit:
        inside = [p for p in pauses if start + limit // 2 < p <= start + limit]
        end = inside[-1] if inside else start + limit
        windows.append((start, end))
        start = end
    windows.append((start, size))
    return windows


def segment_rows(
    transcripts: list[tuple[float, Transcript]], *, model: ModelRef | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """TranscriptSegment values of windowed transcripts (offset in seconds, transcript), in
    time order, and the language most of the speech is in. A transcript by another model than
    the pass's ``model`` (an escalated span) names its model in each row's ``produced_by``.
    Scenes are linked when the rows are written (``link_segments``)."""
    rows: list[dict[str, Any]] = []
    spoken: Counter[str] = Counter()
    for offset, transcript, segment in timed_segments(transcripts):
        produced_by = str(transcript.model) if model is not None and transcript.model != model else None
        text = segment.text.strip()
        if not text:
            continue
        words = [
            {
                "word": word.text,
                "start": round(word.start + offset, 3),
                "end": round(word.end + offset, 3),
                "probability": round(word.probability, 4),
            }
            for word in segment.words
        ]
        start, end = round(segment.start + offset, 3), round(segment.end + offset, 3)
        confidence = float(np.mean([w.probability for w in segment.words])) if segment.words else None
        rows.append(
            {
                "ordinal": len(rows),
                "start_s": start,
                "end_s": end,
                "text": text,
                "language": transcript.language,
                "confidence": round(confidence, 4) if confidence is not None else None,
                "words": words,
                "produced_by": produced_by,
                "avg_logprob": round(segment.avg_logprob, 4),
                "no_speech_prob": round(segment.no_speech_prob, 4),
            }
        )
        spoken[transcript.language] += len(text)
    language = spoken.most_common(1)[0][0] if spoken else None
    return rows, language


async def run_transcribe(ctx: StageContext) -> StageOutput:
    """Transcribe the asset's audio the way the job's quality says; replace its transcript.

    ROUTED jobs take the queue's route (settings.routing): on realtime jobs the fast model, its
    low-confidence spans re-run on the accurate model inside the stage (``escalation: inline``)
    or, by default, flagged for an ESCALATION follow-up job on the batch queue, so first results
    come as fast as the fast model alone gives them. ACCURATE jobs (upgrade passes) run the
    accurate model over everything; ESCALATION jobs re-run only the flagged spans of the stored
    fast pass (:func:`_escalate_stored`)."""
    await ctx.report_progress(0.0)
    router = await router_of(ctx)
    policy = ctx.settings.routing.transcribe
    if ctx.job.quality == JobQuality.ESCALATION:
        return await _escalate_stored(ctx, router)
    audio = await _decode(ctx)
    with permanent_errors("decoding the audio"):
        windows = await ctx.run_sync(plan_windows, audio) if audio.size else []
    await ctx.report_progress(0.05)
    if ctx.job.quality == JobQuality.ACCURATE:
        route = accurate_route(router.registry, policy)
    else:
        route = route_for_queue(
            router.registry, policy, ctx.job.queue, default_model=ctx.settings.whisper_model
        )
    deferred: EscalationRule | None = None
    if route.escalates and ctx.job.queue == "realtime" and policy.escalation == "followup":
        # The realtime job keeps only the fast pass; the rule marks what a follow-up re-runs.
        deferred, route = route.rule, TranscribeRoute(route.model)
    model: ModelRef = route.model.ref
    transcripts: list[tuple[float, Transcript]] = []
    runs: dict[str, ModelRun] = {}
    with permanent_errors("transcribing"):
        for index, (a, b) in enumerate(windows):
            routed = await transcribe_routed(router, audio[a:b], route)
            if index and routed.model != model:
                # The router substituted a smaller model mid-way (Triton down): one asset's
                # segments must come from one model, so the whole track is done again.
                raise TransientStageError(
                    MODEL_CHANGED, f"window {index} was transcribed by {routed.model}, not {model}"
                )
            model = routed.model
            transcripts += [(a / SAMPLE_RATE + offset, transcript) for offset, transcript in routed.pieces]
            for key, run in routed.runs.items():
                runs.setdefault(key, ModelRun(key)).add(run)
            await ctx.report_progress(0.05 + 0.95 * (index + 1) / len(windows))
    follow_up = None
    if deferred is not None and any(deferred.flags(segment) for _, _, segment in timed_segments(transcripts)):
        follow_up = JobQuality.ESCALATION
    return await _transcript_output(ctx, router, transcripts, model=model, runs=runs, follow_up=follow_up)


async def _decode(ctx: StageContext) -> npt.NDArray[np.float32]:
    """The asset's audio track (empty when it has none: silence is a valid answer)."""
    path = ctx.blobs.local_path(ctx.asset.blob_key)
    with permanent_errors("decoding the audio"):
        try:
            return await ctx.run_sync(media.decode_audio, path, cancel=ctx.cancelled)
        except NoAudioStreamError:
            return np.zeros(0, dtype=np.float32)


def stored_pieces(rows: Sequence[TranscriptSegment]) -> tuple[Transcript, list[tuple[float, Transcript]]]:
    """A stored transcript as (the pass's own rows as one first-pass transcript, the rows other
    models produced, each as a piece of its own), times from the asset's start."""
    own: list[Segment] = []
    others: list[tuple[float, Transcript]] = []
    for row in rows:
        words = tuple(Word(w["word"], w["start"], w["end"], w["probability"]) for w in row.words)
        segment = Segment(
            row.start_s,
            row.end_s,
            row.text,
            words,
            # A row from before the confidences were stored counts as confident (never re-run).
            avg_logprob=row.avg_logprob if row.avg_logprob is not None else 0.0,
            no_speech_prob=row.no_speech_prob if row.no_speech_prob is not None else 0.0,
        )
        if row.produced_by:
            name, _, version = row.produced_by.partition(":")
            others.append((0.0, Transcript(row.language or "", 1.0, (segment,), ModelRef(name, version))))
        else:
            own.append(segment)
    first = rows[0]
    pass_model = ModelRef(first.model_name, first.model_version)
    return Transcript(first.language or "", 1.0, tuple(own), pass_model), others


async def _escalate_stored(ctx: StageContext, router: InferenceRouter) -> StageOutput:
    """The ESCALATION follow-up: re-run the stored fast pass's low-confidence spans on the
    accurate model and replace them where its reading is better (the rest is kept as it is)."""
    async with ctx.session_factory() as session:
        rows = await media_repository.transcript_of(session, asset_id=ctx.asset.id)
    if not rows:
        return StageOutput()
    first, others = stored_pieces(rows)
    route = escalation_route(router.registry, ctx.settings.routing.transcribe, first.model)
    if route is None:
        # The policy changed since the fast pass asked for this job: nothing to re-run.
        return StageOutput(model_versions={first.model.name: first.model.version})
    audio = await _decode(ctx)
    await ctx.report_progress(0.05)
    with permanent_errors("transcribing"):
        routed = await escalate(router, audio, first, route)
    await ctx.report_progress(1.0)
    return await _transcript_output(
        ctx, router, [*routed.pieces, *others], model=first.model, runs=routed.runs, follow_up=None
    )


async def _transcript_output(
    ctx: StageContext,
    router: InferenceRouter,
    transcripts: list[tuple[float, Transcript]],
    *,
    model: ModelRef,
    runs: dict[str, ModelRun],
    follow_up: JobQuality | None,
) -> StageOutput:
    """The stage's output: the rows of ``transcripts`` replacing the asset's transcript, and
    its language."""
    rows, spoken = segment_rows(transcripts, model=model)
    # What the words are written in beats the speech model's own guess: an English-only
    # Whisper reports "en" for every track.
    written = await ctx.run_sync(detect_language, " ".join(str(row["text"]) for row in rows))
    language = written or spoken
    await ctx.report_progress(1.0)
    tenant_id, asset_id, kind = ctx.asset.tenant_id, ctx.asset.id, ctx.asset.kind
    # Every speech model's rows: the asset has one transcript, whichever route wrote it last.
    speech_models = [(spec.name, spec.version) for spec in router.registry.for_task("transcribe")]

    async def write(session: AsyncSession) -> None:
        await replace_segments(
            session,
            tenant_id=tenant_id,
            asset_id=asset_id,
            model_name=model.name,
            model_version=model.version,
            segments=rows,
            replaces=speech_models,
        )
        # The scenes stage runs beside this one: its scenes are linked if already written,
        # else the embed stage links them (``link_segments``).
        await link_segments(session, kind=kind, asset_id=asset_id)
        if language is not None:
            await stage_repository.set_language(session, asset_id=asset_id, language=language)

    versions = {model.name: model.version}
    versions.update({key.partition(":")[0]: key.partition(":")[2] for key in runs})
    for key, run in runs.items():
        ctx.kept_weighted(key, total=run.confidence_sum, weight=run.confidence_weight)
    return StageOutput(write=write, model_versions=versions, follow_up=follow_up)


def register_stages(registry: StageRegistry) -> None:
    """Register the transcribe stage."""
    registry.register(StageName.TRANSCRIBE, run_transcribe, max_retries=3)

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
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import stage_repository
from app.jobs.errors import TransientStageError
from app.jobs.pipeline import StageName
from app.media.service import replace_segments
from inference import media
from inference.errors import NoAudioStreamError
from inference.language import detect_language
from inference.registry import SAMPLE_RATE, ModelRef
from inference.routing import ModelRun, route_for_queue, timed_segments, transcribe_routed
from inference.types import Transcript
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
            }
        )
        spoken[transcript.language] += len(text)
    language = spoken.most_common(1)[0][0] if spoken else None
    return rows, language


async def run_transcribe(ctx: StageContext) -> StageOutput:
    """Transcribe the asset's audio; replace its segments of the current speech model."""
    await ctx.report_progress(0.0)
    router = await router_of(ctx)
    path = ctx.blobs.local_path(ctx.asset.blob_key)
    with permanent_errors("decoding the audio"):
        try:
            audio = await ctx.run_sync(media.decode_audio, path, cancel=ctx.cancelled)
        except NoAudioStreamError:
            audio = np.zeros(0, dtype=np.float32)
        windows = await ctx.run_sync(plan_windows, audio) if audio.size else []
    await ctx.report_progress(0.05)
    # The job's queue picks the model: the fast one first on realtime jobs, its low-confidence
    # spans escalated to the accurate one (settings.routing, inference.routing).
    route = route_for_queue(
        router.registry,
        ctx.settings.routing.transcribe,
        ctx.job.queue,
        default_model=ctx.settings.whisper_model,
    )
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
    return StageOutput(write=write, model_versions=versions)


def register_stages(registry: StageRegistry) -> None:
    """Register the transcribe stage."""
    registry.register(StageName.TRANSCRIBE, run_transcribe, max_retries=3)

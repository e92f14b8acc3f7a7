"""The transcribe stage routes by queue and escalates unsure spans; each row names its model."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.media.types import TranscriptSegmentType
from app.core.enums import JobQuality
from app.jobs.models import Job
from app.media.models import TranscriptSegment
from inference.registry import WHISPER_BASE, WHISPER_TINY_EN
from inference.types import Segment, Transcript
from jobs.stages.transcribe import segment_rows
from tests.fixtures.media import SpeechClip
from tests.jobs.stages.conftest import Harness


@contextlib.contextmanager
def escalating_everything(harness: Harness, **transcribe: Any) -> Iterator[None]:
    """A rule that escalates every segment: on clean speech base reads each span with a higher
    log-probability than tiny.en (-0.48/-0.35 against -0.66/-0.59 on this clip), so its readings
    replace them. Which segments the calibrated rule flags is tests/inference/test_routing.py's."""
    settings = harness.services.settings
    policy = settings.routing.model_copy(deep=True)
    policy.transcribe.escalate_below_logprob = 0.0
    for key, value in transcribe.items():
        setattr(policy.transcribe, key, value)
    harness.services.settings = settings.model_copy(update={"routing": policy})
    try:
        yield
    finally:
        harness.services.settings = settings


def assert_escalated(segments: list[TranscriptSegment]) -> None:
    """The pass is the realtime job's fast model; the escalated spans are base's, row by row."""
    assert segments
    assert {(s.model_name, s.model_version) for s in segments} == {("whisper-tiny.en", "ct2-int8-1")}
    assert WHISPER_BASE.key in {s.produced_by for s in segments}
    # The API names each row's own model.
    by_api = {(t.model_name(), t.model_version()) for t in map(TranscriptSegmentType.from_row, segments)}
    assert ("whisper-base", "ct2-int8-1") in by_api
    starts = [s.start_s for s in sorted(segments, key=lambda s: s.ordinal)]
    assert starts == sorted(starts)


@pytest.mark.models
async def test_a_realtime_pass_asks_for_an_escalation_job_that_replaces_its_unsure_spans(
    harness: Harness, speech_clip: SpeechClip
) -> None:
    with escalating_everything(harness):
        asset_id = await harness.ingest("speech.wav", speech_clip.path)
        runs = await harness.chain(asset_id, ("probe", "scenes", "transcribe"))
        fast = await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id)
        # The realtime job keeps the fast pass alone (its first results come as fast as tiny.en
        # gives them), stores each row's confidence, and asks for the follow-up.
        assert runs["transcribe"].output.follow_up == JobQuality.ESCALATION
        assert runs["transcribe"].output.model_versions == {WHISPER_TINY_EN.name: WHISPER_TINY_EN.version}
        assert fast
        assert {(s.model_name, s.produced_by) for s in fast} == {(WHISPER_TINY_EN.name, None)}
        assert all(s.avg_logprob is not None and s.avg_logprob < 0 for s in fast)
        assert all(s.no_speech_prob is not None and 0 <= s.no_speech_prob <= 1 for s in fast)

        async def to_escalation(session: AsyncSession) -> None:
            await session.execute(
                update(Job)
                .where(Job.asset_id == asset_id)
                .values(queue="batch", quality=JobQuality.ESCALATION)
            )

        # The ESCALATION job re-reads the stored pass, re-runs its flagged spans on base and
        # keeps the better reading of each.
        await harness.execute(to_escalation)
        escalation = await harness.run("transcribe", asset_id)

    assert escalation.output.follow_up is None
    assert escalation.output.model_versions == {
        WHISPER_TINY_EN.name: WHISPER_TINY_EN.version,
        WHISPER_BASE.name: WHISPER_BASE.version,
    }
    segments = await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id)
    assert_escalated(segments)
    assert not {s.id for s in fast} & {s.id for s in segments}


@pytest.mark.models
async def test_inline_escalation_replaces_unsure_spans_inside_the_realtime_stage(
    harness: Harness, speech_clip: SpeechClip
) -> None:
    with escalating_everything(harness, escalation="inline"):
        asset_id = await harness.ingest("speech.wav", speech_clip.path)
        runs = await harness.chain(asset_id, ("probe", "scenes", "transcribe"))

    assert runs["transcribe"].output.follow_up is None
    assert runs["transcribe"].output.model_versions == {
        WHISPER_TINY_EN.name: WHISPER_TINY_EN.version,
        WHISPER_BASE.name: WHISPER_BASE.version,
    }
    assert_escalated(await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id))


@pytest.mark.models
async def test_an_accurate_job_runs_the_accurate_model_on_everything(
    harness: Harness, speech_clip: SpeechClip
) -> None:
    asset_id = await harness.ingest("speech.wav", speech_clip.path)

    async def to_accurate(session: AsyncSession) -> None:
        # An upgrade pass: on the realtime queue too, the quality beats the queue's route.
        await session.execute(update(Job).where(Job.asset_id == asset_id).values(quality=JobQuality.ACCURATE))

    await harness.execute(to_accurate)
    runs = await harness.chain(asset_id, ("probe", "scenes", "transcribe"))

    assert runs["transcribe"].output.follow_up is None
    segments = await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id)
    assert segments
    assert {(s.model_name, s.produced_by) for s in segments} == {(WHISPER_BASE.name, None)}


@pytest.mark.models
async def test_a_batch_run_replaces_the_realtime_transcript(
    harness: Harness, speech_clip: SpeechClip
) -> None:
    asset_id = await harness.ingest("speech.wav", speech_clip.path)
    await harness.chain(asset_id, ("probe", "scenes", "transcribe"))
    first = await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id)
    assert {s.model_name for s in first} == {WHISPER_TINY_EN.name}

    async def to_batch(session: AsyncSession) -> None:
        await session.execute(update(Job).where(Job.asset_id == asset_id).values(queue="batch"))

    # The same asset on the batch queue (a reprocess): the accurate model's transcript replaces
    # the fast one's instead of standing beside it.
    await harness.execute(to_batch)
    await harness.run("transcribe", asset_id)
    second = await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id)
    assert second
    assert {(s.model_name, s.produced_by) for s in second} == {(WHISPER_BASE.name, None)}
    assert not {s.id for s in first} & {s.id for s in second}


def test_rows_of_a_span_escalated_between_two_kept_segments_are_in_time_order() -> None:
    # The first pass keeps its segments before and after the escalated span: the rows come out
    # in time order whatever order the pieces are in (ordinals are the transcript's order).
    def segment(start: float, end: float, text: str) -> Segment:
        return Segment(start, end, text, ())

    first = Transcript("en", 1.0, (segment(0.0, 2.0, "one"), segment(6.0, 8.0, "three")), WHISPER_TINY_EN.ref)
    escalated = Transcript("en", 1.0, (segment(0.1, 2.0, "two"),), WHISPER_BASE.ref)
    pieces = [(600.0, first), (600.0 + 2.7, escalated)]

    rows, language = segment_rows(pieces, model=WHISPER_TINY_EN.ref)

    assert [(r["ordinal"], r["text"]) for r in rows] == [(0, "one"), (1, "two"), (2, "three")]
    assert [r["start_s"] for r in rows] == [600.0, 602.8, 606.0]
    assert [r["produced_by"] for r in rows] == [None, WHISPER_BASE.key, None]
    assert language == "en"

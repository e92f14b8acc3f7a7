"""The transcribe stage routes by queue and escalates unsure spans; each row names its model."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.api.media.types import TranscriptSegmentType
from app.media.models import TranscriptSegment
from inference.benchsets import HELD_OUT_CLIPS, routing_clips, write_wav
from inference.registry import WHISPER_BASE, WHISPER_TINY_EN
from tests.jobs.stages.conftest import Harness, require_espeak

# The held-out clip of tests/inference/test_routing.py: never used to choose the thresholds.
CLIP = 1


@pytest.mark.models
async def test_escalated_segments_name_the_model_that_produced_them(
    harness: Harness, stage_media: Path
) -> None:
    require_espeak()
    _, [noisy] = routing_clips(stage_media, HELD_OUT_CLIPS[CLIP : CLIP + 1], prefix="stage-held")
    path = stage_media / "noisy.wav"
    write_wav(path, noisy.audio)
    asset_id = await harness.ingest("noisy.wav", path)
    runs = await harness.chain(asset_id, ("probe", "scenes", "transcribe"))

    segments = await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id)
    assert segments
    # The pass is the realtime job's fast model; the escalated spans are base's, row by row.
    assert {(s.model_name, s.model_version) for s in segments} == {("whisper-tiny.en", "ct2-int8-1")}
    produced = {s.produced_by for s in segments}
    assert WHISPER_BASE.key in produced
    assert runs["transcribe"].output.model_versions == {
        WHISPER_TINY_EN.name: WHISPER_TINY_EN.version,
        WHISPER_BASE.name: WHISPER_BASE.version,
    }
    # The API names each row's own model.
    by_api = {(t.model_name(), t.model_version()) for t in map(TranscriptSegmentType.from_row, segments)}
    assert ("whisper-base", "ct2-int8-1") in by_api
    starts = [s.start_s for s in sorted(segments, key=lambda s: s.ordinal)]
    assert starts == sorted(starts)

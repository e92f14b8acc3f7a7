"""Audio assets get scenes from speech; corrupt inputs fail with typed permanent errors."""

from __future__ import annotations

import pytest

from app.core.enums import OwnerType, SimilarityKind
from app.jobs.errors import PermanentStageError
from app.media.models import Embedding, Scene, SimilarityEdge, TranscriptSegment
from app.media.probe import CORRUPT_MEDIA
from inference.media import Span
from inference.quality import word_error_rate
from jobs.stages.common import SCENES_MISSING
from jobs.stages.scenes import tile_spans
from tests.fixtures.media import SpeechClip
from tests.jobs.stages.conftest import AUDIO_CHAIN, Harness, png


def test_speech_spans_tile_the_track_cut_where_each_phrase_begins() -> None:
    spans = [Span(0.5, 2.0), Span(4.0, 6.0), Span(6.4, 7.0)]
    assert tile_spans(spans, 8.0) == [(0.0, 4.0), (4.0, 6.4), (6.4, 8.0)]
    assert tile_spans([], 5.0) == [(0.0, 5.0)]


@pytest.mark.models
async def test_audio_scenes_follow_the_speech_and_hold_their_segments(
    harness: Harness, speech_clip: SpeechClip
) -> None:
    asset_id = await harness.ingest("speech.wav", speech_clip.path, title="Two sentences")
    await harness.chain(asset_id, AUDIO_CHAIN)
    scenes = sorted(await harness.rows(Scene, Scene.asset_id == asset_id), key=lambda s: s.ordinal)
    # Two sentences, one cut, inside the planted pause (an SSML break) where the second sentence
    # begins: at most the VAD's 0.2 s padding (and a 20 ms analysis window) before its first
    # sound, never in the middle of the pause; the scenes cover the whole track.
    assert len(scenes) == 2
    assert speech_clip.pause_start < scenes[0].end_s == scenes[1].start_s < speech_clip.pause_end
    assert speech_clip.pause_end - 0.3 <= scenes[1].start_s
    assert (scenes[0].start_s, scenes[1].end_s) == (0.0, pytest.approx(speech_clip.duration, abs=0.01))
    assert all(s.keyframe_blob_key is None for s in scenes)

    segments = sorted(
        await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id), key=lambda s: s.start_s
    )
    assert word_error_rate(speech_clip.text, " ".join(s.text for s in segments)) <= 0.35
    for segment in segments:
        [scene] = [s for s in scenes if s.id == segment.scene_id]
        assert scene.start_s <= segment.start_s < scene.end_s
    assert {s.scene_id for s in segments} == {s.id for s in scenes}
    # No frames: text vectors only; scene meaning comes from what is said in it.
    vectors = await harness.rows(Embedding, Embedding.asset_id == asset_id)
    assert {(v.owner_type, v.modality.value) for v in vectors} == {
        (OwnerType.ASSET, "text"),
        (OwnerType.SEGMENT, "text"),
    }
    assert await harness.count(SimilarityEdge, SimilarityEdge.kind == SimilarityKind.NEAR_DUPLICATE) == 0


async def test_undecodable_media_fails_permanently(harness: Harness) -> None:
    # Probe would refuse it; a stage that meets it anyway (the blob changed) must not retry.
    asset_id = await harness.ingest("broken.png", png("coffee"))
    await harness.run("probe", asset_id)
    path = harness.services.blobs.local_path((await harness.asset(asset_id)).blob_key)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(PermanentStageError) as failure:
        await harness.run("scenes", asset_id)
    assert failure.value.code == CORRUPT_MEDIA


async def test_a_downstream_stage_without_scenes_fails_permanently(harness: Harness) -> None:
    asset_id = await harness.ingest("lonely.png", png("rocket"))
    with pytest.raises(PermanentStageError) as failure:
        await harness.run("detect", asset_id)
    assert failure.value.code == SCENES_MISSING
    assert "reprocess it from the scenes stage" in failure.value.message

"""Transcribe runs beside scenes (it needs only the audio): segments written before the scenes
exist are linked to them by the embed stage, and relinked after the scenes are cut again."""

from __future__ import annotations

import pytest

from app.media.models import Scene, TranscriptSegment
from tests.fixtures.media import SpeechClip
from tests.jobs.stages.conftest import Harness

pytestmark = pytest.mark.models


async def test_segments_written_before_the_scenes_are_linked_by_embed(
    harness: Harness, speech_clip: SpeechClip
) -> None:
    asset_id = await harness.ingest("speech.wav", speech_clip.path, title="Two sentences")
    await harness.chain(asset_id, ("probe", "transcribe"))
    segments = await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id)
    assert segments
    assert {s.scene_id for s in segments} == {None}  # no scenes yet: nothing to point at

    await harness.chain(asset_id, ("scenes", "embed"))
    scenes = await harness.rows(Scene, Scene.asset_id == asset_id)
    assert len(scenes) == 2
    for segment in await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id):
        [scene] = [s for s in scenes if s.id == segment.scene_id]
        assert scene.start_s <= segment.start_s < scene.end_s

    # The scenes cut again (a scenes-only reprocess: new rows, new ids), then embed: the
    # segments follow the new scenes, none points at a deleted one.
    await harness.chain(asset_id, ("scenes", "embed"))
    new_ids = {s.id for s in await harness.rows(Scene, Scene.asset_id == asset_id)}
    assert new_ids.isdisjoint({s.id for s in scenes})
    segments = await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id)
    linked = {s.scene_id for s in segments}
    assert linked == new_ids


async def test_transcribe_after_the_scenes_links_its_own_segments(
    harness: Harness, speech_clip: SpeechClip
) -> None:
    asset_id = await harness.ingest("speech.wav", speech_clip.path, title="Two sentences")
    await harness.chain(asset_id, ("probe", "scenes", "transcribe"))
    scene_ids = {s.id for s in await harness.rows(Scene, Scene.asset_id == asset_id)}
    segments = await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id)
    linked = {s.scene_id for s in segments}
    assert linked == scene_ids

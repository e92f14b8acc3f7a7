"""The video chain on the talking fixture (cuts at 2.0 and 4.0 s, a caption in the second shot,
one spoken sentence) with real models, then a second delivery of every stage."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.core.enums import AssetKind, DetectionKind, Modality, OwnerType
from app.media.models import Detection, Embedding, Scene, SimilarityEdge, TranscriptSegment
from app.media.service import vector_from_bytes
from inference.quality import word_error_rate
from tests.fixtures.media import VIDEO_SENTENCE, VideoClip
from tests.jobs.stages.conftest import VIDEO_CHAIN, Harness

pytestmark = pytest.mark.models

TABLES = (Scene, TranscriptSegment, Detection, Embedding, SimilarityEdge)


async def test_video_chain_writes_every_stage_and_a_redelivery_changes_nothing(
    harness: Harness, talking_video: VideoClip
) -> None:
    asset_id = await harness.ingest("talking.mp4", talking_video.path, title="Evening news")
    runs = await harness.chain(asset_id, VIDEO_CHAIN)
    frame = 1 / talking_video.fps

    # scenes: the planted cuts within one frame, a JPEG keyframe and thumbnail each.
    scenes = sorted(await harness.rows(Scene, Scene.asset_id == asset_id), key=lambda s: s.ordinal)
    assert [s.ordinal for s in scenes] == [0, 1, 2]
    for scene, cut in zip(scenes[1:], talking_video.cuts, strict=True):
        assert scene.start_s == pytest.approx(cut, abs=frame + 1e-6)
    assert scenes[0].start_s == 0.0
    assert scenes[-1].end_s == pytest.approx(talking_video.duration, abs=frame + 1e-6)
    for scene in scenes:
        assert scene.keyframe_blob_key is not None
        assert scene.thumbnail_blob_key is not None
        with Image.open(io.BytesIO(harness.services.blobs.read_bytes(scene.keyframe_blob_key))) as image:
            assert (image.format, image.size) == ("JPEG", (talking_video.width, talking_video.height))
        with Image.open(io.BytesIO(harness.services.blobs.read_bytes(scene.thumbnail_blob_key))) as thumb:
            assert thumb.format == "JPEG"
            assert thumb.width <= 320
            assert thumb.height <= 180
        assert scene.phash is not None
        assert len(scene.phash) == 16
    assert runs["scenes"].progress[-1] == 1.0

    # transcribe: the sentence (tiny.en's bound from docs/models.md), timed inside the clip,
    # each segment on the scene it overlaps most.
    segments = sorted(
        await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id), key=lambda s: s.start_s
    )
    assert segments
    text = " ".join(s.text for s in segments)
    assert word_error_rate(VIDEO_SENTENCE, text) <= 0.35, text
    words = [w for s in segments for w in s.words]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    assert all(0.0 <= w["start"] <= w["end"] <= talking_video.duration + 0.1 for w in words)
    scene_ids = {s.id for s in scenes}
    for segment in segments:
        assert segment.scene_id in scene_ids
        assert segment.language == "en"
        assert segment.confidence is not None
        assert 0 < segment.confidence <= 1
        assert segment.model_name.startswith("whisper")
    first = next(s for s in scenes if s.id == segments[0].scene_id)
    assert first.start_s <= segments[0].start_s < first.end_s + 0.5
    assert (await harness.asset(asset_id)).language == "en"

    # ocr: the caption, exactly, on the second scene, in the lower part of the frame.
    texts = await harness.rows(
        Detection, Detection.asset_id == asset_id, Detection.kind == DetectionKind.TEXT
    )
    assert [(d.label, d.scene_id, d.time_s) for d in texts] == [
        ("BREAKING NEWS", scenes[1].id, scenes[1].start_s)
    ]
    caption = texts[0]
    assert caption.box_x is not None
    assert caption.box_y is not None
    assert caption.box_w is not None
    assert caption.box_h is not None
    assert 0 <= caption.box_x < 0.2
    assert caption.box_y > 0.6
    assert 0 < caption.box_w <= 1
    assert 0 < caption.box_y + caption.box_h <= 1
    assert caption.confidence > 0.8

    # detect: no face on colour fields (labels are covered on photos: test_images.py).
    assert (
        await harness.count(Detection, Detection.asset_id == asset_id, Detection.kind == DetectionKind.FACE)
        == 0
    )

    # embed: counts and dimensions per owner and modality.
    vectors = await harness.rows(Embedding, Embedding.asset_id == asset_id)
    shape = sorted((e.modality.value, e.owner_type.value, e.dimension) for e in vectors)
    expected = sorted(
        [("text", "asset", 384)]
        + [("text", "segment", 384)] * len(segments)
        + [("text", "scene", 384)]  # the one scene with on-screen text
        + [("image", "scene", 1280)] * 3
        + [("image", "asset", 1280)]
        + [("bridge", "scene", 384)] * 3
        + [("bridge", "asset", 384)]
    )
    assert shape == expected
    for vector in vectors:
        values = vector_from_bytes(vector.vector)
        assert values.shape == (vector.dimension,)
        assert float((values**2).sum()) == pytest.approx(1.0, abs=1e-4)
        assert vector.content_sha256 is not None
    ocr_vector = next(v for v in vectors if v.owner_type == OwnerType.SCENE and v.modality == Modality.TEXT)
    assert ocr_vector.owner_id == scenes[1].id

    # Every stage recorded the models it used.
    assert set(runs["transcribe"].output.model_versions) == {segments[0].model_name}
    assert set(runs["detect"].output.model_versions) == {
        "mobilenet_v2-imagenet",
        "dlib-hog-frontalface",
        "dlib-resnet-face",
    }
    assert {"all-MiniLM-L6-v2", "mobilenet_v2-features", "imagenet-bridge"} <= set(
        runs["embed"].output.model_versions
    )

    # A second delivery of every stage: the same rows, nothing duplicated, nothing dangling.
    counts = {table.__name__: await harness.count(table) for table in TABLES}
    await harness.chain(asset_id, VIDEO_CHAIN)
    assert {table.__name__: await harness.count(table) for table in TABLES} == counts
    scene_ids = {s.id for s in await harness.rows(Scene, Scene.asset_id == asset_id)}
    assert {s.scene_id for s in await harness.rows(TranscriptSegment)} <= scene_ids
    assert {d.scene_id for d in await harness.rows(Detection)} <= scene_ids
    owners = {e.owner_id for e in await harness.rows(Embedding, Embedding.owner_type == OwnerType.SCENE)}
    assert owners <= scene_ids
    assert (await harness.asset(asset_id)).kind == AssetKind.VIDEO

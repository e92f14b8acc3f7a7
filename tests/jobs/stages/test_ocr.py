"""OCR: a caption shown over two consecutive shots is one detection; the merge rules."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from app.core.enums import DetectionKind
from app.media.models import Detection, Scene
from jobs.stages.common import SceneRef
from jobs.stages.ocr import Line, merge_runs
from tests.fixtures.media import make_video
from tests.jobs.stages.conftest import Harness


def scene(ordinal: int) -> SceneRef:
    return SceneRef(uuid.uuid4(), ordinal, 2.0 * ordinal, 2.0 * ordinal + 2, None, None)


CAPTION = (0.05, 0.8, 0.5, 0.1)


def test_merge_joins_a_line_repeated_in_consecutive_scenes_only() -> None:
    s0, s1, s2, s3, s4 = (scene(i) for i in range(5))
    runs = merge_runs(
        [
            (s0, [Line("BREAKING NEWS", 0.95, CAPTION), Line("LIVE", 0.9, (0.8, 0.05, 0.1, 0.05))]),
            # Misread once, drifted a little: the same caption. LIVE moved across the frame: not.
            (
                s1,
                [
                    Line("BREAKlNG  news", 0.97, (0.06, 0.8, 0.5, 0.1)),
                    Line("LIVE", 0.9, (0.1, 0.4, 0.1, 0.05)),
                ],
            ),
            (s2, [Line("BREAKING NEWS", 0.9, CAPTION)]),
            (s3, []),  # a scene without the caption breaks the run
            (s4, [Line("BREAKING NEWS", 0.9, CAPTION)]),
        ]
    )
    summary = [(r.first.ordinal, r.last.ordinal, r.best.text, r.best.score) for r in runs]
    assert summary == [
        (0, 2, "BREAKlNG  news", 0.97),
        (0, 0, "LIVE", 0.9),
        (1, 1, "LIVE", 0.9),
        (4, 4, "BREAKING NEWS", 0.9),
    ]
    # The merged detection keeps the box where the text first appeared.
    assert runs[0].best.box == CAPTION


def test_merge_does_not_join_different_text_at_the_same_place() -> None:
    s0, s1 = scene(0), scene(1)
    runs = merge_runs([(s0, [Line("BREAKING NEWS", 0.9, CAPTION)]), (s1, [Line("WEATHER", 0.9, CAPTION)])])
    assert [(r.first.ordinal, r.best.text) for r in runs] == [(0, "BREAKING NEWS"), (1, "WEATHER")]


@pytest.mark.models
async def test_caption_over_two_shots_is_one_detection_on_the_first(harness: Harness, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "caption.mp4", captions=[None, "BREAKING NEWS", "BREAKING NEWS"])
    asset_id = await harness.ingest("caption.mp4", clip.path)
    await harness.chain(asset_id, ("probe", "scenes", "ocr"))
    scenes = sorted(await harness.rows(Scene, Scene.asset_id == asset_id), key=lambda s: s.ordinal)
    assert len(scenes) == 3
    texts = await harness.rows(
        Detection, Detection.asset_id == asset_id, Detection.kind == DetectionKind.TEXT
    )
    assert [(d.label, d.scene_id, d.time_s) for d in texts] == [
        ("BREAKING NEWS", scenes[1].id, scenes[1].start_s)
    ]

"""OCR reads drawn text exactly, dark-on-light and white-on-dark, and video captions."""

from __future__ import annotations

import numpy as np
import pytest

from inference.media import detect_shots, extract_keyframes
from inference.router import InferenceRouter
from tests.fixtures.media import VideoClip, text_image

pytestmark = pytest.mark.models


@pytest.mark.parametrize("dark", [False, True], ids=["dark-on-light", "white-on-dark"])
async def test_drawn_text_is_read_exactly(router: InferenceRouter, dark: bool) -> None:
    image = text_image("Invoice 2024 Total 318", dark=dark)
    result = await router.ocr(image)
    assert result.model.name == "rapidocr-ppocr"
    assert result.text == "Invoice 2024 Total 318"
    (region,) = result.regions
    assert region.score > 0.9
    x, y, w, h = region.box
    assert 0 <= x < x + w <= image.shape[1]
    assert 0 <= y < y + h <= image.shape[0]


async def test_two_lines_come_back_top_to_bottom(router: InferenceRouter) -> None:
    top = text_image("First line", size=(640, 120))
    bottom = text_image("Second line", size=(640, 120))
    result = await router.ocr(np.concatenate([top, bottom], axis=0))
    assert [r.text for r in result.regions] == ["First line", "Second line"]


async def test_blank_image_has_no_text(router: InferenceRouter) -> None:
    result = await router.ocr(np.full((200, 300, 3), 128, dtype=np.uint8))
    assert result.regions == ()


async def test_caption_in_a_video_keyframe(router: InferenceRouter, silent_video: VideoClip) -> None:
    keyframes = extract_keyframes(silent_video.path, detect_shots(silent_video.path))
    texts = [(await router.ocr(k.image)).text for k in keyframes]
    # Only the second shot has a caption; the moving square may read as a symbol elsewhere.
    assert texts[1] == "BREAKING NEWS"
    assert "BREAKING" not in texts[0] + texts[2]
    assert "NEWS" not in texts[0] + texts[2]

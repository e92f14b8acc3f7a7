"""Image decoding and the MobileNetV2 input transform (no models)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from PIL import Image

from inference.errors import MediaError
from inference.preprocess import MAX_IMAGE_PIXELS, as_rgb, imagenet_pixels, load_image
from tests.fixtures.media import image_bytes, photo


def test_load_image_decodes_png_and_jpeg_to_rgb() -> None:
    chelsea = photo("chelsea")
    assert np.array_equal(load_image(image_bytes(chelsea)), chelsea)
    jpeg = load_image(image_bytes(chelsea, format="JPEG", quality=95))
    assert jpeg.shape == chelsea.shape
    assert np.abs(jpeg.astype(int) - chelsea.astype(int)).mean() < 3


def test_gray_and_rgba_become_rgb() -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert as_rgb(gray).shape == (3, 4, 3)
    assert as_rgb(np.zeros((3, 4, 4), dtype=np.uint8)).shape == (3, 4, 3)
    assert as_rgb(Image.new("L", (5, 2))).shape == (2, 5, 3)
    with pytest.raises(MediaError, match="uint8"):
        as_rgb(np.zeros((3, 4, 3), dtype=np.float32))
    with pytest.raises(MediaError, match="shape"):
        as_rgb(np.zeros((3, 4, 2), dtype=np.uint8))


def test_garbage_and_bombs_are_media_errors() -> None:
    with pytest.raises(MediaError):
        load_image(b"definitely not an image")
    # A valid PNG header (IHDR with a correct CRC) claiming more pixels than the limit: it must
    # be refused from the header, before anything is decompressed.
    side = int(MAX_IMAGE_PIXELS**0.5) + 10
    png = image_bytes(np.zeros((1, 1, 3), dtype=np.uint8))
    ihdr = b"IHDR" + side.to_bytes(4, "big") + side.to_bytes(4, "big") + png[24:29]
    bomb = png[:12] + ihdr + zlib.crc32(ihdr).to_bytes(4, "big") + png[33:]
    with pytest.raises(MediaError, match="exceeds"):
        load_image(bomb)


def test_imagenet_pixels_resize_crop_and_normalise() -> None:
    wide = np.full((100, 300, 3), 255, dtype=np.uint8)
    tall = np.zeros((400, 120, 3), dtype=np.uint8)
    pixels = imagenet_pixels([wide, tall])
    assert pixels.shape == (2, 3, 224, 224)
    assert pixels.dtype == np.float32
    # White and black map to (1 - mean) / std and -mean / std per channel.
    np.testing.assert_allclose(
        pixels[0, :, 112, 112], (1 - np.array([0.485, 0.456, 0.406])) / [0.229, 0.224, 0.225], rtol=1e-5
    )
    np.testing.assert_allclose(
        pixels[1, :, 112, 112], -np.array([0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225], rtol=1e-5
    )

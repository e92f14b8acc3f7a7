"""Client-side image preparation shared by every backend (the Triton models take its output).

Images travel as RGB ``uint8`` arrays of shape (H, W, 3); :func:`load_image` makes one from
encoded bytes and :func:`imagenet_pixels` turns a batch into MobileNetV2's input tensor.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image

from inference.errors import MediaError
from inference.registry import MOBILENET_SIZE

# torchvision's ImageNet normalisation, which the MobileNetV2 weights were trained with.
_MEAN = np.asarray([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.asarray([0.229, 0.224, 0.225], dtype=np.float32)
# Pillow's own decompression-bomb limit; past it Pillow only warns (and refuses at twice the
# size): here a warning is an error, so a 90+ megapixel image never reaches a model.
MAX_IMAGE_PIXELS = 89_478_485

RGBImage = npt.NDArray[np.uint8]


def load_image(data: bytes) -> RGBImage:
    """Decode image bytes (JPEG, PNG, WebP, ...) to an RGB uint8 array."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise MediaError(f"image of {image.width}x{image.height} pixels exceeds the limit")
                image.load()
                return as_rgb(image)
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"cannot decode image: {exc}") from exc


def as_rgb(image: Image.Image | npt.NDArray[np.generic]) -> RGBImage:
    """An RGB uint8 (H, W, 3) array from a Pillow image or a gray/RGB/RGBA array."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise MediaError(f"images must be uint8, got {array.dtype}")
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 4:
        return np.ascontiguousarray(array[:, :, :3])
    if array.ndim == 3 and array.shape[2] == 3:
        return np.ascontiguousarray(array)
    raise MediaError(f"not an image array: shape {array.shape}")


def imagenet_pixels(images: Sequence[RGBImage], size: int = MOBILENET_SIZE) -> npt.NDArray[np.float32]:
    """Resize the short side to 256/224 of ``size``, centre-crop, normalise: (N, 3, size, size).

    This is torchvision's standard ImageNet evaluation transform, done with Pillow.
    """
    out = np.empty((len(images), 3, size, size), dtype=np.float32)
    resize_to = round(size * 256 / 224)
    for i, image in enumerate(images):
        pil = Image.fromarray(as_rgb(image))
        w, h = pil.size
        scale = resize_to / min(w, h)
        pil = pil.resize(
            (max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BILINEAR
        )
        w, h = pil.size
        left, top = (w - size) // 2, (h - size) // 2
        crop = np.asarray(pil.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
        out[i] = ((crop - _MEAN) / _STD).transpose(2, 0, 1)
    return out

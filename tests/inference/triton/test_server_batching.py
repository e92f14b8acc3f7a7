"""Triton's dynamic batcher also batches the one-item models (OCR, faces): requests of
different image sizes share an execution (``allow_ragged_batch``) and each still gets its own
answer. Read from the server's model statistics, on the real server."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest

from inference.registry import HAAR_FACES, RAPIDOCR, ModelSpec, Tensors
from inference.triton.client import TritonBackend
from tests.fixtures.media import text_image

pytestmark = [pytest.mark.triton, pytest.mark.models, pytest.mark.slow]


async def _settled_statistics(backend: TritonBackend, spec: ModelSpec) -> dict[int, int]:
    """Batch statistics once they stop changing: the server records an execution just after
    its responses are sent, so a read right after the last answer can miss it."""
    last = await backend.batch_statistics(spec)
    for _ in range(40):
        await asyncio.sleep(0.05)
        current = await backend.batch_statistics(spec)
        if current == last:
            return current
        last = current
    return last


async def _concurrently(
    backend: TritonBackend, spec: ModelSpec, images: list[npt.NDArray[np.uint8]]
) -> tuple[list[Tensors], dict[int, int]]:
    """Outputs of concurrent one-image calls, and the executions they ran as (size -> count)."""
    before = await _settled_statistics(backend, spec)
    outputs = await asyncio.gather(*(backend.infer(spec, {"image": image}) for image in images))
    after = await _settled_statistics(backend, spec)
    ran = {size: count - before.get(size, 0) for size, count in after.items() if count > before.get(size, 0)}
    return list(outputs), ran


async def test_concurrent_ocr_requests_of_different_sizes_share_executions(
    triton_grpc: TritonBackend,
) -> None:
    lines = [f"Invoice {1000 + i} Total {37 * i}" for i in range(6)]
    # Six different shapes: without allow_ragged_batch none of them could be batched together.
    images = [
        text_image(line, dark=i % 2 == 0, size=(640 + 40 * i, 160 + 8 * i)) for i, line in enumerate(lines)
    ]
    outputs, ran = await _concurrently(triton_grpc, RAPIDOCR, images)
    assert sum(size * count for size, count in ran.items()) == len(images)
    # Fewer executions than requests: the first runs alone, the others queue behind it.
    assert sum(ran.values()) < len(images), f"no request was batched: {ran}"
    assert max(ran) > 1
    # Each request got the text of its own image.
    assert [o["text"].tolist() for o in outputs] == [[line] for line in lines]
    assert all(o["boxes"].shape == (1, 4, 2) for o in outputs)


async def test_concurrent_face_requests_match_one_by_one_answers(
    triton_grpc: TritonBackend, photos: dict[str, npt.NDArray[np.uint8]], haarcascades: object
) -> None:
    images = [photos[name] for name in ("astronaut", "chelsea", "coffee", "rocket")] * 2
    alone = [await triton_grpc.infer(HAAR_FACES, {"image": image}) for image in images[:4]]
    outputs, ran = await _concurrently(triton_grpc, HAAR_FACES, images)
    assert sum(size * count for size, count in ran.items()) == len(images)
    assert max(ran) > 1, f"no request was batched: {ran}"
    for got, want in zip(outputs, alone * 2, strict=True):
        np.testing.assert_array_equal(got["boxes"], want["boxes"])
        np.testing.assert_array_equal(got["score"], want["score"])
    assert outputs[0]["boxes"].shape == (1, 4)  # the astronaut's one face

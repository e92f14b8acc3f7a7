"""The same model calls through Triton and through the local backend give the same outputs.

Both sides run the same runner code (inference/triton/python_backend.py wraps the local runners), on
different NumPy majors and in different processes, so floats may differ in the last bits and
batching may change padding: vectors are compared within 1e-4, strings exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt
import pytest

from inference.backend import strings
from inference.local import LocalBackend, ModelPool
from inference.preprocess import imagenet_pixels
from inference.quality import word_error_rate
from inference.registry import (
    DLIB_FACE_DESCRIPTOR,
    DLIB_HOG_FACES,
    HAAR_FACES,
    MINILM_FP32,
    MINILM_INT8,
    MOBILENET_FEATURES_SPEC,
    MOBILENET_LABELS,
    RAPIDOCR,
    WHISPER_BASE,
    WHISPER_TINY_EN,
    ModelSpec,
    Tensors,
)
from inference.triton.client import TritonBackend
from tests.fixtures.media import SpeechClip, text_image

pytestmark = [
    pytest.mark.triton,
    pytest.mark.models,
    pytest.mark.slow,
    # tritonclient's HTTP asyncio client posts request bodies as raw bytes; aiohttp warns about
    # bodies over 1 MiB (an image tensor) since writing them blocks the loop for a moment. That
    # is the library's choice, harmless here, and gRPC (the default protocol) has no such path.
    pytest.mark.filterwarnings("ignore:Sending a large body directly with raw bytes:ResourceWarning"),
]

ATOL = 1e-4


@pytest.fixture
async def local(model_pool: ModelPool) -> AsyncIterator[LocalBackend]:
    backend = LocalBackend(model_pool)
    try:
        yield backend
    finally:
        await backend.aclose()


def assert_same(
    spec: ModelSpec,
    triton_out: Tensors,
    local_out: Tensors,
    *,
    atol: float = ATOL,
    per_tensor: dict[str, float] | None = None,
) -> None:
    assert set(triton_out) == {t.name for t in spec.outputs} == set(local_out)
    for tensor in spec.outputs:
        a, b = triton_out[tensor.name], local_out[tensor.name]
        assert a.shape == b.shape, tensor.name
        assert a.dtype == b.dtype, tensor.name
        if tensor.dtype == "BYTES":
            assert a.tolist() == b.tolist(), tensor.name
        else:
            tolerance = (per_tensor or {}).get(tensor.name, atol)
            np.testing.assert_allclose(
                a.astype(np.float64), b.astype(np.float64), atol=tolerance, rtol=0, err_msg=tensor.name
            )


TEXTS = ["A tabby cat sleeps on the sofa.", "Quarterly revenue grew by 4 percent.", "", "Ünïcödé and emoji ✓"]


@pytest.mark.parametrize("spec", [MINILM_FP32, MINILM_INT8], ids=lambda s: s.key)
async def test_text_embeddings(triton: TritonBackend, local: LocalBackend, spec: ModelSpec) -> None:
    inputs = {"text": strings(TEXTS)}
    out = await triton.infer(spec, inputs)
    assert_same(spec, out, await local.infer(spec, inputs))
    norms = np.linalg.norm(out["embedding"][[0, 1, 3]], axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


async def test_images(
    triton: TritonBackend, local: LocalBackend, photos: dict[str, npt.NDArray[np.uint8]]
) -> None:
    pixels = imagenet_pixels([photos["chelsea"], photos["coffee"], photos["rocket"]])
    for spec in (MOBILENET_LABELS, MOBILENET_FEATURES_SPEC):
        inputs = {"pixels": pixels}
        out = await triton.infer(spec, inputs)
        assert_same(spec, out, await local.infer(spec, inputs))
    probs = (await triton.infer(MOBILENET_LABELS, {"pixels": pixels}))["probs"]
    # 281 tabby cat, 967 espresso / 968 cup, and the rocket photo reads as a missile or projectile.
    assert int(probs[0].argmax()) in {281, 282, 285}
    assert int(probs[1].argmax()) in {967, 968, 504}


async def test_ocr(triton: TritonBackend, local: LocalBackend) -> None:
    image = text_image("Invoice 2024 Total 318", dark=True)
    inputs = {"image": image}
    out = await triton.infer(RAPIDOCR, inputs)
    assert_same(RAPIDOCR, out, await local.infer(RAPIDOCR, inputs), atol=0.5)
    assert out["text"].tolist() == ["Invoice 2024 Total 318"]


async def test_faces(
    triton: TritonBackend,
    local: LocalBackend,
    photos: dict[str, npt.NDArray[np.uint8]],
    haarcascades: object,
) -> None:
    inputs = {"image": photos["astronaut"]}
    out = await triton.infer(HAAR_FACES, inputs)
    assert_same(HAAR_FACES, out, await local.infer(HAAR_FACES, inputs))
    assert out["boxes"].shape == (1, 4)


async def test_dlib_faces_and_descriptors(
    triton: TritonBackend, local: LocalBackend, photos: dict[str, npt.NDArray[np.uint8]]
) -> None:
    inputs = {"image": photos["astronaut"]}
    boxes = await triton.infer(DLIB_HOG_FACES, inputs)
    assert_same(DLIB_HOG_FACES, boxes, await local.infer(DLIB_HOG_FACES, inputs))
    assert boxes["boxes"].shape == (1, 4)
    described = {"image": photos["astronaut"], "boxes": boxes["boxes"]}
    out = await triton.infer(DLIB_FACE_DESCRIPTOR, described)
    # dlib's ResNet on two NumPy majors: the same descriptor to well under its 0.6 threshold.
    assert_same(DLIB_FACE_DESCRIPTOR, out, await local.infer(DLIB_FACE_DESCRIPTOR, described), atol=1e-3)


@pytest.mark.parametrize("spec", [WHISPER_TINY_EN, WHISPER_BASE], ids=lambda s: s.key)
async def test_transcription(
    triton_grpc: TritonBackend, local: LocalBackend, speech: SpeechClip, spec: ModelSpec
) -> None:
    inputs = {"audio": speech.audio}
    out = await triton_grpc.infer(spec, inputs)
    expected = await local.infer(spec, inputs)
    assert set(out) == {t.name for t in spec.outputs} == set(expected)
    # Same CTranslate2 model and input, but its int8 kernels split work by thread count, which
    # differs between the stub and this process: probabilities wobble by ~0.02, word timings
    # (derived from attention) by a frame or two, and where two readings are close the greedy
    # decoder may pick the other word (whisper base heard "dumps" in one, "jump," in the other
    # on this machine). So: the same language and segments, and the same words to within one
    # in ten.
    assert out["language"].tolist() == expected["language"].tolist()
    np.testing.assert_allclose(
        out["language_probability"].astype(np.float32),
        expected["language_probability"].astype(np.float32),
        atol=0.05,
    )
    assert out["segment_start"].shape == expected["segment_start"].shape
    for name in ("segment_start", "segment_end"):
        np.testing.assert_allclose(
            out[name].astype(np.float32), expected[name].astype(np.float32), atol=0.1, err_msg=name
        )
    # The confidences quality-aware routing escalates on (inference.routing): a served model
    # that lost them would never escalate. Mean token log-probabilities wobble with the words.
    for name, atol in (("segment_avg_logprob", 0.15), ("segment_no_speech_prob", 0.05)):
        np.testing.assert_allclose(
            out[name].astype(np.float32), expected[name].astype(np.float32), atol=atol, err_msg=name
        )
    heard, reference = (" ".join(o["segment_text"].tolist()) for o in (out, expected))
    assert word_error_rate(reference, heard) <= 0.1, (reference, heard)
    assert "fox" in " ".join(out["segment_text"].tolist()).lower()

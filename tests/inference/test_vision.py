"""ImageNet labels, faces, visual embeddings and the text-to-image bridge on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from inference.cache import EmbeddingCache
from inference.config import FaceDetectorChoice, InferenceConfig
from inference.local import LocalBackend, ModelPool
from inference.models.vision import imagenet_class_names
from inference.preprocess import load_image
from inference.registry import IMAGENET_BRIDGE, MOBILENET_FEATURES_SPEC, MOBILENET_LABELS
from inference.router import InferenceRouter
from tests.fixtures.media import image_bytes

pytestmark = pytest.mark.models

Photos = dict[str, npt.NDArray[np.uint8]]

# ImageNet-1k indices: 281-285 are the domestic cats (tabby, tiger cat, Persian, Siamese,
# Egyptian cat); coffee: 967 espresso, 968 cup, 504 coffee mug; rocket: 657 missile,
# 744 projectile, 812 space shuttle.
DOMESTIC_CATS = set(range(281, 286))
COFFEE = {967, 968, 504}
ROCKET = {657, 744, 812}


def test_class_names_are_the_imagenet_list() -> None:
    names = imagenet_class_names()
    assert len(names) == 1000
    assert names[281] == "tabby cat"
    assert names[967] == "espresso"


async def test_labels_of_sample_photos(router: InferenceRouter, photos: Photos) -> None:
    results = await router.labels([photos["chelsea"], photos["coffee"], photos["rocket"]], top_k=5)
    # The expected class is the top-1 label of each photo (docs/models.md gives the scores).
    assert results[0].labels[0].index in DOMESTIC_CATS, results[0]
    assert results[1].labels[0].index in COFFEE, results[1]
    assert results[2].labels[0].index in ROCKET, results[2]
    for r in results:
        assert r.model == MOBILENET_LABELS.ref
        scores = [label.score for label in r.labels]
        assert scores == sorted(scores, reverse=True)
        assert 0 < sum(scores) <= 1.0001


async def test_confidence_floor_drops_weak_labels(router: InferenceRouter, photos: Photos) -> None:
    (strong,) = await router.labels([photos["coffee"]], top_k=5, min_score=0.5)
    assert [label.index for label in strong.labels] == [967]


@pytest.mark.parametrize(
    ("detector", "model_name"), [("haar", "haar-frontalface"), ("hog", "dlib-hog-frontalface")]
)
async def test_one_face_on_the_astronaut(
    model_pool: ModelPool, photos: Photos, haarcascades: Path, detector: FaceDetectorChoice, model_name: str
) -> None:
    router = InferenceRouter(
        InferenceConfig(haarcascade_dir=haarcascades, face_detector=detector), pool=model_pool
    )
    try:
        faces = await router.faces(photos["astronaut"])
        coffee_faces = await router.faces(photos["coffee"], min_score=0.5)
    finally:
        await router.aclose()
    assert faces.model.name == model_name
    (face,) = faces.faces
    # Eileen Collins' face sits near (175-275, 60-160) in the 512x512 photo.
    cx, cy = face.x + face.width / 2, face.y + face.height / 2
    assert 190 < cx < 260
    assert 80 < cy < 150
    assert 60 < face.width < 140
    assert 0.5 < face.score <= 1.0
    assert coffee_faces.faces == ()


async def test_visual_embedding_survives_reencoding_and_resizing(
    router: InferenceRouter, photos: Photos
) -> None:
    chelsea = photos["chelsea"]
    small = np.asarray(Image.fromarray(chelsea).resize((225, 150)), dtype=np.uint8)
    recompressed = load_image(image_bytes(small, format="JPEG", quality=40))
    out = await router.embed_image([chelsea, recompressed, photos["rocket"], photos["coffee"]])
    assert out.model == MOBILENET_FEATURES_SPEC.ref
    assert out.vectors.shape == (4, 1280)
    v = out.vectors
    same, different = float(v[0] @ v[1]), max(float(v[0] @ v[2]), float(v[0] @ v[3]))
    assert same > 0.85
    assert same > different + 0.3


async def test_bridge_lets_a_text_query_find_the_right_photo(router: InferenceRouter, photos: Photos) -> None:
    names = ["chelsea", "coffee", "rocket"]
    images = await router.embed_bridge([photos[n] for n in names])
    queries = await router.embed_text(["a cat", "a cup of coffee", "a rocket launch"])
    assert images.model == IMAGENET_BRIDGE.ref
    assert images.vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(images.vectors, axis=1), 1.0, atol=1e-5)
    scores = queries.vectors @ images.vectors.T
    # Each query ranks its own photo first.
    assert scores.argmax(axis=1).tolist() == [0, 1, 2], scores
    assert scores[0, 0] > scores[0, 2]


async def test_labels_and_bridge_share_one_forward_pass(model_pool: ModelPool, photos: Photos) -> None:
    router = InferenceRouter(InferenceConfig(batching=False), pool=model_pool, cache=EmbeddingCache())
    try:
        await router.labels([photos["rocket"]])
        await router.embed_bridge([photos["rocket"]])
        assert isinstance(router.backend, LocalBackend)
        assert router.backend.stats[MOBILENET_LABELS.key].items == 1
    finally:
        await router.aclose()

"""Image assets: labels, faces, one scene each, near-duplicates by pHash + visual embedding."""

from __future__ import annotations

import pytest
from sqlalchemy import or_

from app.core.enums import DetectionKind, OwnerType, SimilarityKind
from app.media.models import Detection, Embedding, Scene, SimilarityEdge
from inference.models.vision import imagenet_class_names
from tests.fixtures.media import photo
from tests.jobs.stages.conftest import IMAGE_CHAIN, Harness, half_size_jpeg, png

pytestmark = pytest.mark.models

# ImageNet's domestic cats, classes 281-285 (named as the model's class list names them).
CATS = set(imagenet_class_names()[281:286])


async def test_cat_labels_and_one_astronaut_face(harness: Harness) -> None:
    cat = await harness.ingest("chelsea.png", png("chelsea"))
    astronaut = await harness.ingest("astronaut.png", png("astronaut"))
    for asset_id in (cat, astronaut):
        await harness.chain(asset_id, ("probe", "scenes", "detect"))
    [scene] = await harness.rows(Scene, Scene.asset_id == cat)
    assert (scene.ordinal, scene.start_s, scene.end_s) == (0, 0.0, 0.0)
    labels = await harness.rows(Detection, Detection.asset_id == cat, Detection.kind == DetectionKind.LABEL)
    assert {d.label for d in labels} & CATS
    assert all(d.scene_id == scene.id and d.box_x is None for d in labels)
    assert (
        await harness.count(Detection, Detection.asset_id == cat, Detection.kind == DetectionKind.FACE) == 0
    )

    [face] = await harness.rows(
        Detection, Detection.asset_id == astronaut, Detection.kind == DetectionKind.FACE
    )
    height, width = photo("astronaut").shape[:2]
    assert face.box_x is not None
    assert face.box_y is not None
    assert face.box_w is not None
    assert face.box_h is not None
    # On the face: docs/models.md measured its centre near (225, 115) px of the 512x512 photo.
    centre = ((face.box_x + face.box_w / 2) * width, (face.box_y + face.box_h / 2) * height)
    assert centre == pytest.approx((225, 115), abs=40)
    assert face.confidence >= harness.services.settings.detection_min_confidence


async def test_resized_recompressed_copy_is_a_near_duplicate_another_photo_is_not(harness: Harness) -> None:
    original = await harness.ingest("chelsea.png", png("chelsea"))
    copy = await harness.ingest("chelsea-small.jpg", half_size_jpeg(photo("chelsea")))
    other = await harness.ingest("coffee.png", png("coffee"))
    for asset_id in (original, copy, other):
        await harness.chain(asset_id, IMAGE_CHAIN)
    [edge] = await harness.rows(SimilarityEdge, SimilarityEdge.kind == SimilarityKind.NEAR_DUPLICATE)
    assert {edge.source_id, edge.target_id} == {original, copy}
    assert (edge.source_type, edge.target_type) == (OwnerType.ASSET, OwnerType.ASSET)
    assert edge.score >= harness.services.settings.image_near_duplicate_threshold
    assert edge.details["phash_distance"] <= 6
    assert edge.details["cosine"] > 0.85
    assert edge.model_name == "mobilenet_v2-features"
    assert edge.model_version.endswith("+nd1")

    # Processing either end again keeps ONE row for the pair.
    await harness.run("similarity", original)
    await harness.run("similarity", copy)
    pair = or_(SimilarityEdge.source_asset_id == other, SimilarityEdge.target_asset_id == other)
    assert await harness.count(SimilarityEdge, SimilarityEdge.kind == SimilarityKind.NEAR_DUPLICATE) == 1
    assert (
        await harness.count(SimilarityEdge, pair, SimilarityEdge.kind == SimilarityKind.NEAR_DUPLICATE) == 0
    )
    # The copy's scene looks like the original's (a visual scene edge); coffee looks like neither.
    visual = await harness.rows(SimilarityEdge, SimilarityEdge.kind == SimilarityKind.VISUAL)
    assert {frozenset((e.source_asset_id, e.target_asset_id)) for e in visual} == {
        frozenset((original, copy))
    }
    # And means the same (a SEMANTIC scene edge: the same labels in MiniLM space, through the
    # bridge); coffee means neither.
    semantic = await harness.rows(SimilarityEdge, SimilarityEdge.kind == SimilarityKind.SEMANTIC)
    assert {frozenset((e.source_asset_id, e.target_asset_id)) for e in semantic} == {
        frozenset((original, copy))
    }
    for edge in semantic:
        assert (edge.source_type, edge.target_type) == (OwnerType.SCENE, OwnerType.SCENE)
        assert edge.score >= harness.services.settings.semantic_similarity_threshold
        assert (edge.model_name, edge.model_version.endswith("+sem1")) == ("all-MiniLM-L6-v2", True)
    # Image assets embed their single scene (visual, bridge, and its labels in words) and the asset.
    assert (
        await harness.count(Embedding, Embedding.asset_id == copy, Embedding.owner_type == OwnerType.SCENE)
        == 3
    )

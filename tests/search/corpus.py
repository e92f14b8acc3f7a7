"""A small generated corpus with known answers for the behaviour suite."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from search.documents import AssetDocument, MomentDocument, TimedText, Vector, VectorField

TEXT_DIMS = 8
VISUAL_DIMS = 6
TEXT_MODEL = "minilm@1"
VISUAL_MODEL = "mobilenet@1"
TENANT = "t1"
OTHER_TENANT = "t2"
BASE_DATE = datetime(2024, 1, 1, tzinfo=UTC)

KINDS = ("video", "audio", "image")
LANGUAGES = ("en", "de")
FILLER = (
    "weather report for the coming week",
    "interview with the local baker",
    "traffic update on the main road",
    "market prices went up again",
    "a walk through the old harbour",
    "music festival opens on friday",
)


def vector(rng: np.random.Generator, dims: int, model: str) -> Vector:
    """A random unit-free vector (the backends normalise)."""
    return Vector.of(rng.normal(size=dims).astype(np.float32), model)


def make_asset(
    rng: np.random.Generator,
    index: int,
    *,
    tenant_id: str = TENANT,
    version: int = 1,
    moments: int = 3,
) -> AssetDocument:
    """Asset ``a<index>`` with ``moments`` scenes of 10 s, varied metadata and random vectors."""
    asset_id = f"a{index:02d}"
    scenes = []
    for scene in range(moments):
        start = scene * 10.0
        scenes.append(
            MomentDocument(
                scene_id=f"s{scene}",
                start_s=start,
                end_s=start + 10.0,
                transcript=(
                    TimedText(start, start + 5.0, FILLER[(index + scene) % len(FILLER)]),
                    TimedText(start + 5.0, start + 10.0, f"segment {asset_id} {scene} ends here"),
                ),
                ocr=(TimedText(start + 1.0, start + 3.0, f"caption {asset_id}"),),
                labels=("person",) if scene % 2 == 0 else ("car", "street"),
                faces_count=scene,
                vectors={
                    VectorField.TEXT: vector(rng, TEXT_DIMS, TEXT_MODEL),
                    VectorField.VISUAL: vector(rng, VISUAL_DIMS, VISUAL_MODEL),
                },
            )
        )
    return AssetDocument(
        tenant_id=tenant_id,
        asset_id=asset_id,
        version=version,
        kind=KINDS[index % len(KINDS)],
        title=f"Clip number {index}",
        created_at=BASE_DATE + timedelta(days=index),
        tags=("news",) if index % 2 == 0 else ("sport", "news") if index % 3 == 0 else ("sport",),
        labels=("person",),
        language=LANGUAGES[index % len(LANGUAGES)],
        duration_s=30.0 + index * 10,
        user_metadata={"season": index % 3, "premium": index % 4 == 0, "channel": f"ch{index % 2}"},
        vectors={VectorField.TEXT: vector(rng, TEXT_DIMS, TEXT_MODEL)},
        moments=tuple(scenes),
    )


def corpus(count: int = 12, seed: int = 7) -> list[AssetDocument]:
    """``count`` assets of tenant t1, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return [make_asset(rng, index) for index in range(count)]


def with_transcript(asset: AssetDocument, scene_index: int, *segments: TimedText) -> AssetDocument:
    """``asset`` with one scene's transcript replaced."""
    moments = list(asset.moments)
    moments[scene_index] = replace(moments[scene_index], transcript=segments)
    return replace(asset, moments=tuple(moments))

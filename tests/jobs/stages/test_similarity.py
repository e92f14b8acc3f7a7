"""Video near-duplicates are length-aware; scene edges; the scoring rules on their own."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from app.core.enums import AssetKind, JobStatus, Modality, OwnerType, SimilarityKind
from app.jobs.models import Job
from app.media.models import SimilarityEdge
from jobs.stages.index import run_index
from jobs.stages.similarity import SceneVec, edge, image_score, scene_vectors, unique_edges, video_alignment
from tests.jobs.stages.conftest import TEXT_CHAIN, Harness

VIDEO_CHAIN_NO_SPEECH = ("probe", "scenes", "ocr", "detect", "embed", "similarity")


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def scenes(asset: uuid.UUID, spans: list[tuple[float, float, np.ndarray]]) -> list[SceneVec]:
    return [SceneVec(uuid.uuid4(), asset, AssetKind.VIDEO, a, b, v) for a, b, v in spans]


BLACK, RED, GREEN, BLUE = unit(1, 0, 0, 0), unit(0, 1, 0, 0), unit(0, 0, 1, 0), unit(0, 0, 0, 1)


def test_alignment_counts_matched_time_over_the_longer_video() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    video = scenes(a, [(0, 1, BLACK), (1, 4, RED), (4, 7, GREEN)])
    same = scenes(b, [(0, 1, BLACK), (1, 4, RED), (4, 7, GREEN)])
    assert video_alignment(video, same, 0.9).score == pytest.approx(1.0)
    # Only the 1 s opening in common: 1/7 of the time.
    opening_only = scenes(b, [(0, 1, BLACK), (1, 7, BLUE)])
    assert video_alignment(video, opening_only, 0.9).score == pytest.approx(1 / 7, abs=0.02)
    # The first half of the same video: half of the longer one matched.
    half = scenes(b, [(0, 1, BLACK), (1, 3.5, RED)])
    assert video_alignment(video, half, 0.9).score == pytest.approx(3.5 / 7, abs=0.02)
    # A copy with 1 s trimmed from the start lines up by shifting.
    trimmed = scenes(b, [(0, 3, RED), (3, 6, GREEN)])
    aligned = video_alignment(video, trimmed, 0.9)
    assert aligned.score == pytest.approx(6 / 7, abs=0.02)
    assert abs(aligned.shift_s) == pytest.approx(1.0)
    # Cut differently (a missed cut) but showing the same: the grid, not the scene list, decides.
    recut = scenes(b, [(0, 1, BLACK), (1, 2.5, RED), (2.5, 4, RED), (4, 7, GREEN)])
    assert video_alignment(video, recut, 0.9).score == pytest.approx(1.0)


def test_image_score_and_one_edge_per_pair() -> None:
    assert image_score(0.9, 0) == pytest.approx(0.95)
    assert image_score(0.45, 30) == pytest.approx((0.45 + 34 / 64) / 2)
    a, b = uuid.uuid4(), uuid.uuid4()
    one = edge((OwnerType.ASSET, a, a), (OwnerType.ASSET, b, b), SimilarityKind.NEAR_DUPLICATE, 0.9, {})
    other = edge((OwnerType.ASSET, b, b), (OwnerType.ASSET, a, a), SimilarityKind.NEAR_DUPLICATE, 0.95, {})
    assert (one["source_id"], one["target_id"]) == (other["source_id"], other["target_id"])
    assert unique_edges([one, other]) == [other]


@pytest.mark.models
async def test_reencoded_video_is_a_near_duplicate_a_shared_opening_is_not(
    harness: Harness, duplicate_videos: dict[str, Path]
) -> None:
    ids = {name: await harness.ingest(f"{name}.mp4", path) for name, path in duplicate_videos.items()}
    for asset_id in ids.values():
        await harness.chain(asset_id, VIDEO_CHAIN_NO_SPEECH)
    near = await harness.rows(SimilarityEdge, SimilarityEdge.kind == SimilarityKind.NEAR_DUPLICATE)
    assert [frozenset((e.source_id, e.target_id)) for e in near] == [
        frozenset((ids["original"], ids["reencoded"]))
    ]
    [dup] = near
    threshold = harness.services.settings.near_duplicate_threshold
    assert dup.score >= threshold
    assert dup.details["matched_s"] == pytest.approx(6.0, abs=0.25)

    # The two photo videos share their 1 s black opening exactly (scene against scene) and
    # nothing else: length-aware, that is ~1/7 of their time.
    async def score(a: str, b: str) -> float:
        async with harness.factory() as session:
            router = harness.services.inference
            visual = await scene_vectors(
                session, harness.tenant.id, Modality.IMAGE, router.model_for("embed_image").ref
            )
        mine = [s for s in visual if s.asset_id == ids[a]]
        theirs = [s for s in visual if s.asset_id == ids[b]]
        assert float(mine[0].vector @ theirs[0].vector) > 0.99  # the black openings
        return video_alignment(mine, theirs, threshold).score

    opening = await score("opening_a", "opening_b")
    assert 0.1 < opening < 0.2


async def _set_jobs(harness: Harness, status: JobStatus, *assets: uuid.UUID) -> None:
    # The harness runs stages by hand: the ingest jobs stay queued unless told otherwise.
    await harness.execute(
        lambda session: session.execute(update(Job).where(Job.asset_id.in_(assets)).values(status=status))
    )


Edges = list[tuple[str, frozenset[uuid.UUID], float]]


async def _edges(harness: Harness) -> Edges:
    rows = await harness.rows(SimilarityEdge)
    return sorted((str(e.kind), frozenset((e.source_id, e.target_id)), round(e.score, 6)) for e in rows)


async def _scan_then_index(harness: Harness, ids: list[uuid.UUID]) -> Edges:
    """Every asset's similarity run with all vectors scanned, then with candidates from the index:
    the scan's edges (asserted equal to the index's)."""
    await _set_jobs(harness, JobStatus.SUCCEEDED, *ids)
    settings = harness.services.settings
    settings.similarity_index_above = 10**9
    for asset_id in ids:
        await harness.run("similarity", asset_id)
    scanned = await _edges(harness)
    settings.similarity_index_above = 0
    for asset_id in ids:
        await harness.run("similarity", asset_id)
    # The same edges, every kind: the index's kNN holds every candidate of these small sets.
    assert await _edges(harness) == scanned
    return scanned


async def _forget_and_restore(harness: Harness, kind: str, pair: tuple[uuid.UUID, uuid.UUID]) -> None:
    """With ``pair[1]`` gone from the index, ``pair[0]``'s run no longer finds it, unless it has
    a job in flight (its documents may not be indexed yet)."""
    wanted = frozenset(pair)
    search = harness.services.search
    await search.delete_asset(tenant_id=str(harness.tenant.id), asset_id=str(pair[1]), version=2**62)
    await harness.run("similarity", pair[0])
    assert not [p for _, p, _ in await _edges(harness) if p == wanted]
    await _set_jobs(harness, JobStatus.RUNNING, pair[1])
    await harness.run("similarity", pair[0])
    assert any(k == kind and p == wanted for k, p, _ in await _edges(harness))


@pytest.mark.models
async def test_past_the_size_threshold_candidates_come_from_the_index(
    harness: Harness, duplicate_videos: dict[str, Path]
) -> None:
    ids = {name: await harness.ingest(f"{name}.mp4", path) for name, path in duplicate_videos.items()}
    for asset_id in ids.values():
        await harness.chain(asset_id, VIDEO_CHAIN_NO_SPEECH[:-1])
        await run_index(await harness.context("index", asset_id, []))

    scanned = await _scan_then_index(harness, list(ids.values()))

    duplicate = frozenset((ids["original"], ids["reencoded"]))
    assert any(kind == SimilarityKind.NEAR_DUPLICATE and pair == duplicate for kind, pair, _ in scanned)
    assert any(kind == SimilarityKind.SEMANTIC for kind, _, _ in scanned)
    await _forget_and_restore(harness, SimilarityKind.NEAR_DUPLICATE, (ids["original"], ids["reencoded"]))


@pytest.mark.models
async def test_text_documents_find_their_candidates_as_assets_in_the_index(harness: Harness) -> None:
    notes = {
        "bread": "Knead the dough for ten minutes, then bake the loaf until the crust is golden.",
        "loaf": "Bake the bread loaf until golden after kneading the dough for ten minutes.",
        "rates": "The central bank raised interest rates by a quarter point to slow inflation.",
    }
    ids = {name: await harness.ingest(f"{name}.txt", text.encode()) for name, text in notes.items()}
    for asset_id in ids.values():
        await harness.chain(asset_id, TEXT_CHAIN[:-1])
        await run_index(await harness.context("index", asset_id, []))

    scanned = await _scan_then_index(harness, list(ids.values()))

    similar = frozenset((ids["bread"], ids["loaf"]))
    assert any(kind == SimilarityKind.SEMANTIC and pair == similar for kind, pair, _ in scanned)
    await _forget_and_restore(harness, SimilarityKind.SEMANTIC, (ids["bread"], ids["loaf"]))

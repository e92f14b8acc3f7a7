"""Embeddings: unchanged content is reused, not recomputed; the CLIP path when configured."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.http import create_graphql_app
from app.assets.models import Asset
from app.core.enums import DetectionKind, Modality, OwnerType
from app.media.models import Detection, Embedding, Scene
from app.media.service import vector_from_bytes
from inference.backend import InferenceBackend
from inference.cache import content_hash
from inference.registry import ModelSpec, Tensors
from jobs.scene_text import scene_text
from jobs.stages.index import run_index
from search.backend import SearchBackend, VectorSpec
from search.documents import VectorField
from search.query import QueryVector, SearchQuery
from tests.api.graph import gid
from tests.fixtures.keys import admin_headers
from tests.fixtures.media import VideoClip
from tests.inference.test_clip import _save_tiny_clip
from tests.jobs.stages.conftest import IMAGE_CHAIN, VIDEO_CHAIN, Harness, make_router, png

pytestmark = pytest.mark.models


class CountingBackend:
    """Counts the items every model is asked to process, then asks the real backend."""

    def __init__(self, inner: InferenceBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.items: Counter[str] = Counter()

    async def infer(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        first = next(iter(inputs.values()))
        self.items[spec.name] += int(first.shape[0]) if spec.max_batch_size and first.ndim else 1
        return await self.inner.infer(spec, inputs)

    async def is_ready(self, spec: ModelSpec) -> bool:
        return await self.inner.is_ready(spec)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def vectors(harness: Harness, asset_id: object) -> dict[tuple[str, str, str, object], bytes]:
    rows = await harness.rows(Embedding, Embedding.asset_id == asset_id)
    return {(r.modality.value, r.model_name, r.owner_type.value, r.owner_id): r.vector for r in rows}


async def test_reprocessing_unchanged_content_calls_no_embedding_model(
    harness: Harness, talking_video: VideoClip
) -> None:
    asset_id = await harness.ingest("talking.mp4", talking_video.path, title="Evening news")
    await harness.chain(asset_id, VIDEO_CHAIN)
    before = await vectors(harness, asset_id)

    # A fresh process: new router, empty in-memory cache. Only the database remembers.
    router = make_router(harness.services.settings)
    counting = CountingBackend(router.backend)
    router.backend = counting
    first = harness.services.inference
    harness.services.inference = router
    try:
        await harness.run("embed", asset_id)
        assert counting.items == Counter()
        assert await vectors(harness, asset_id) == before

        # A new title: exactly that one text is embedded again.
        async def retitle(session: AsyncSession) -> None:
            await session.execute(update(Asset).where(Asset.id == asset_id).values(title="Morning news"))

        await harness.execute(retitle)
        await harness.run("embed", asset_id)
        assert counting.items == Counter({"all-MiniLM-L6-v2": 1})
        after = await vectors(harness, asset_id)
        changed = {key for key in before if before[key] != after[key]}
        assert changed == {("text", "all-MiniLM-L6-v2", "asset", asset_id)}
    finally:
        harness.services.inference = first
        await router.aclose()


async def test_clip_vectors_when_a_clip_model_is_configured(harness: Harness, tmp_path: Path) -> None:
    """The CLIP path end to end with a tiny random CLIP: the embed stage writes CLIP image rows,
    the index stage puts them in the document's clip field, and a text query runs a CLIP kNN
    retriever with CLIP's text tower. Random weights: the mechanics are asserted, not quality."""
    clip_dir = _save_tiny_clip(tmp_path / "clip", seed=3)
    settings = harness.services.settings.model_copy(update={"clip_model_dir": clip_dir})
    router = make_router(settings)
    first, first_settings = harness.services.inference, harness.services.settings
    harness.services.inference, harness.services.settings = router, settings
    try:
        asset_id = await harness.ingest("coffee.png", png("coffee"))
        run = (await harness.chain(asset_id, IMAGE_CHAIN))["embed"]
        clip_image = router.model_for("embed_image_clip").ref
        assert run.output.model_versions[clip_image.name] == clip_image.version
        rows = await harness.rows(Embedding, Embedding.model_name == clip_image.name)
        assert sorted((r.owner_type, r.modality, r.dimension) for r in rows) == [
            (OwnerType.ASSET, Modality.BRIDGE, 24),
            (OwnerType.SCENE, Modality.BRIDGE, 24),
        ]
        # Beside the default image and bridge vectors, not instead of them.
        assert (
            await harness.count(
                Embedding, Embedding.asset_id == asset_id, Embedding.modality == Modality.IMAGE
            )
            == 2
        )

        # The index stage: the first generation is built for the configured models, CLIP's
        # image tower included (dims from the registry's spec of the directory).
        await run_index(await harness.context("index", asset_id, []))
        backend: SearchBackend = harness.services.search
        live = await backend.live_generation()
        assert live is not None
        clip_key = f"{clip_image.name}:{clip_image.version}"
        assert live.spec.vectors[VectorField.CLIP] == VectorSpec(24, clip_key)
        [scene] = await harness.rows(Scene, Scene.asset_id == asset_id)
        [scene_clip] = [r for r in rows if r.owner_type is OwnerType.SCENE]
        stored = vector_from_bytes(scene_clip.vector)
        # The moment document carries the scene's CLIP vector: searching with it finds it at
        # cosine 1.
        exact = await backend.search(
            SearchQuery(
                tenant_id=str(harness.tenant.id),
                vectors=(QueryVector.of(VectorField.CLIP, stored, clip_key),),
            )
        )
        assert exact.hits[0].scene_id == str(scene.id)
        assert exact.hits[0].retriever_scores["vector:clip"] == pytest.approx(1.0, abs=1e-5)

        # A text search through GraphQL embeds the text with CLIP's text tower too and runs
        # the CLIP retriever; its score for the scene is the cosine of those two vectors.
        text = "a cup of coffee"
        query_clip = (await router.embed_text_clip([text])).vectors[0]
        transport = httpx.ASGITransport(app=create_graphql_app(harness.services))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=await admin_headers(harness.services)
        ) as http:
            response = await http.post(
                "/graphql",
                json={
                    "query": "query($q: SearchInput!) { search(query: $q, first: 5) { retrievers "
                    "edges { node { scene { id } ranks { retriever rank score } } } } }",
                    "variables": {"q": {"text": text, "mode": "SEMANTIC"}},
                },
            )
    finally:
        harness.services.inference, harness.services.settings = first, first_settings
        await router.aclose()
    search = response.json()["data"]["search"]
    assert search["retrievers"] == ["VECTOR_TEXT", "VECTOR_BRIDGE", "VECTOR_CLIP"]
    [node] = [e["node"] for e in search["edges"] if e["node"]["scene"]["id"] == gid("Scene", scene.id)]
    [clip_rank] = [r for r in node["ranks"] if r["retriever"] == "VECTOR_CLIP"]
    # The only moment with a CLIP vector: rank 1, scored with the query's CLIP text vector.
    assert clip_rank["rank"] == 1
    assert clip_rank["score"] == pytest.approx(float(query_clip @ stored), abs=1e-5)


async def test_a_photo_without_text_gets_a_text_vector_of_its_labels(harness: Harness) -> None:
    asset_id = await harness.ingest("chelsea.png", png("chelsea"))
    await harness.chain(asset_id, ("probe", "scenes", "ocr", "detect", "embed"))
    [scene] = await harness.rows(Scene, Scene.asset_id == asset_id)
    detections = await harness.rows(Detection, Detection.asset_id == asset_id)
    assert {d.kind for d in detections} == {DetectionKind.LABEL}  # no on-screen text, no face
    [row] = await harness.rows(
        Embedding,
        Embedding.owner_id == scene.id,
        Embedding.modality == Modality.TEXT,
    )
    # The scene in words: the label and its WordNet synonyms (the content hash proves what was
    # embedded); the text model's name and version stamp it.
    text = scene_text(detections)
    assert "Egyptian cat" in text
    assert row.content_sha256 == content_hash(text)
    assert (row.model_name, row.dimension) == ("all-MiniLM-L6-v2", 384)

    # A changed label changes the text: exactly that one text is embedded again.
    router = make_router(harness.services.settings)
    counting = CountingBackend(router.backend)
    router.backend = counting
    first = harness.services.inference
    harness.services.inference = router
    try:
        await harness.run("embed", asset_id)
        assert counting.items == Counter()

        async def relabel(session: AsyncSession) -> None:
            await session.execute(
                update(Detection)
                .where(Detection.asset_id == asset_id, Detection.kind == DetectionKind.LABEL)
                .values(label="tabby cat")
            )

        await harness.execute(relabel)
        await harness.run("embed", asset_id)
        assert counting.items == Counter({"all-MiniLM-L6-v2": 1})
        [row] = await harness.rows(
            Embedding, Embedding.owner_id == scene.id, Embedding.modality == Modality.TEXT
        )
        assert row.content_sha256 == content_hash("tabby cat, tabby")
    finally:
        harness.services.inference = first
        await router.aclose()

"""Whole-asset search over what the pipeline found: the talking fixture (real models) is found
by words only spoken in it and words only shown on screen, in TEXT and HYBRID asset scope."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.indexing import ModelRouter, ensure_generation, sync_assets
from search.documents import DocType, VectorField
from search.embedded import EmbeddedBackend
from search.query import QueryVector, SearchQuery
from tests.fixtures.media import VideoClip
from tests.jobs.stages.conftest import IMAGE_CHAIN, VIDEO_CHAIN, Harness, png

pytestmark = pytest.mark.models


async def test_asset_scope_finds_a_video_by_its_speech_and_its_caption(
    harness: Harness, talking_video: VideoClip, tmp_path: Path
) -> None:
    # Titles that share no word with the speech ("Welcome to the media library.") or the
    # caption ("BREAKING NEWS"): only the pipeline's outputs can find the video.
    video = await harness.ingest("talking.mp4", talking_video.path, title="Clip seven")
    await harness.chain(video, VIDEO_CHAIN)
    other = await harness.ingest("coffee.png", png("coffee"), title="Cup on a table")
    await harness.chain(other, IMAGE_CHAIN)

    router = harness.services.inference
    assert router is not None

    async def current_router() -> ModelRouter:
        found: ModelRouter = router
        return found

    backend = EmbeddedBackend(tmp_path / "index.sqlite3")
    try:
        (generation,) = await ensure_generation(backend, current_router)
        report = await sync_assets(harness.factory, backend, [video, other])
        assert report.ok
        tenant_id = str(harness.tenant.id)
        text_model = generation.spec.vectors[VectorField.TEXT].model_version
        for phrase in ("media library", "breaking news"):
            query = SearchQuery(tenant_id=tenant_id, text=phrase, scope=DocType.ASSET)
            text_only = await backend.search(query)
            # Before the asset document held transcript and OCR text this found nothing.
            assert [h.asset_id for h in text_only.hits] == [str(video)], phrase
            vector = (await router.embed_text([phrase])).vectors[0]
            hybrid = await backend.search(
                SearchQuery(
                    tenant_id=tenant_id,
                    text=phrase,
                    vectors=(QueryVector.of(VectorField.TEXT, vector, text_model),),
                    scope=DocType.ASSET,
                )
            )
            assert hybrid.hits[0].asset_id == str(video), phrase
            assert hybrid.hits[0].highlights, phrase
    finally:
        await backend.aclose()

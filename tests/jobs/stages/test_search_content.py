"""Search over what the pipeline found (real models): the talking fixture is found in asset
scope by words only spoken in it and words only shown on screen (TEXT and HYBRID), and a
speech hit plays from the matched word, not from the silence before it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobs.indexing import ModelRouter, ensure_generation, sync_assets
from search.backend import SearchBackend
from search.documents import DocType, VectorField
from search.embedded import EmbeddedBackend
from search.query import QueryVector, SearchQuery
from tests.fixtures.media import VideoClip, make_speech
from tests.jobs.stages.conftest import AUDIO_CHAIN, IMAGE_CHAIN, VIDEO_CHAIN, Harness, png, require_espeak

pytestmark = pytest.mark.models

PHRASE = "Fresh bread at the market every morning."


@contextlib.asynccontextmanager
async def indexed(
    harness: Harness, path: Path, *asset_ids: uuid.UUID
) -> AsyncIterator[tuple[SearchBackend, str]]:
    """An embedded index of the assets, on a generation of the harness's models, and the text
    model's version."""
    router = harness.services.inference
    assert router is not None

    async def current_router() -> ModelRouter:
        found: ModelRouter = router
        return found

    backend = EmbeddedBackend(path)
    try:
        (generation,) = await ensure_generation(backend, current_router)
        assert (await sync_assets(harness.factory, backend, list(asset_ids))).ok
        yield backend, generation.spec.vectors[VectorField.TEXT].model_version
    finally:
        await backend.aclose()


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
    async with indexed(harness, tmp_path / "index.sqlite3", video, other) as (backend, text_model):
        tenant_id = str(harness.tenant.id)
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


async def test_speech_hits_play_from_the_spoken_phrase(harness: Harness, tmp_path: Path) -> None:
    # A greeting, a planted 1 s pause, then the phrase searched for. Whisper (tiny.en) keeps
    # both in one segment starting at 0.0 s, so the segment start is 1.66 s early; the word
    # timing of "fresh" measured 1.94 s against a spoken start of 1.66 s (where the pause ends,
    # measured from signal energy).
    require_espeak()
    clip = make_speech(tmp_path / "phrase.wav", ["Good evening.", PHRASE], pause_ms=1000)
    asset_id = await harness.ingest("phrase.wav", clip.path, title="Evening")
    await harness.chain(asset_id, AUDIO_CHAIN)
    async with indexed(harness, tmp_path / "index.sqlite3", asset_id) as (backend, _):
        tenant_id = str(harness.tenant.id)
        for scope in (DocType.MOMENT, DocType.ASSET):
            query = SearchQuery(tenant_id=tenant_id, text="fresh bread market", scope=scope)
            hit = (await backend.search(query)).hits[0]
            play_from = min(code.start_s for code in hit.time_codes)
            assert abs(play_from - clip.pause_end) <= 0.3, (scope, play_from, clip.pause_end)

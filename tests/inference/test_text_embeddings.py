"""MiniLM text embeddings: fp32 vs int8 agreement, semantic sanity, batching and caching."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from inference.batching import BatchingBackend
from inference.cache import EmbeddingCache
from inference.config import InferenceConfig
from inference.local import LocalBackend, ModelPool
from inference.registry import MINILM_FP32, MINILM_INT8
from inference.router import InferenceRouter

pytestmark = pytest.mark.models

SENTENCES = [
    "A cat is sleeping on the sofa.",
    "The quarterly revenue grew by twelve percent.",
    "Firefighters rescued a family from the burning house.",
    "How do I reset my password?",
    "The rocket lifted off from the launch pad at dawn.",
    "Fresh bread is sold at the market every morning.",
    "short",
    "Ein Satz auf Deutsch über das Wetter.",
]


async def test_int8_matches_fp32(model_pool: ModelPool) -> None:
    fp32 = InferenceRouter(InferenceConfig(text_embedding="fp32"), pool=model_pool)
    int8 = InferenceRouter(InferenceConfig(text_embedding="int8"), pool=model_pool)
    try:
        a = await fp32.embed_text(SENTENCES)
        b = await int8.embed_text(SENTENCES)
    finally:
        await fp32.aclose()
        await int8.aclose()
    assert a.model == MINILM_FP32.ref
    assert b.model == MINILM_INT8.ref
    assert a.vectors.shape == b.vectors.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(a.vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(a.vectors * b.vectors, axis=1)
    assert cosines.min() > 0.99, cosines


@pytest.mark.parametrize("variant", ["fp32", "int8"])
async def test_paraphrase_is_closer_than_unrelated(model_pool: ModelPool, variant: str) -> None:
    router = InferenceRouter(InferenceConfig(text_embedding=variant), pool=model_pool)  # type: ignore[arg-type]
    try:
        v = (
            await router.embed_text(
                [
                    "The kitten is napping on the couch.",
                    "A small cat sleeps on the sofa.",
                    "Interest rates were raised by the central bank.",
                ]
            )
        ).vectors
    finally:
        await router.aclose()
    paraphrase, unrelated = float(v[0] @ v[1]), float(v[0] @ v[2])
    assert paraphrase > 0.6
    assert paraphrase > unrelated + 0.4


async def test_long_text_is_truncated_not_rejected(router: InferenceRouter) -> None:
    long_text = "word " * 2000
    out = await router.embed_text([long_text, ""])
    assert out.vectors.shape == (2, 384)
    assert np.isfinite(out.vectors).all()


async def test_micro_batched_vectors_equal_unbatched(model_pool: ModelPool) -> None:
    single = InferenceRouter(InferenceConfig(batching=False), pool=model_pool, cache=EmbeddingCache())
    batched = InferenceRouter(
        InferenceConfig(batch_max_items=16, batch_max_delay_ms=20), pool=model_pool, cache=EmbeddingCache()
    )
    try:
        # 24 concurrent one-sentence requests, as 24 stages would send them.
        texts = [f"{s} ({i})" for i, s in enumerate(SENTENCES * 3)]
        plain = [(await single.embed_text([t])).vectors[0] for t in texts]
        got = await asyncio.gather(*(batched.embed_text([t]) for t in texts))
    finally:
        await single.aclose()
        await batched.aclose()
    for one, many in zip(plain, got, strict=True):
        # Padding to the longest text in a batch changes float summation order only.
        assert float(one @ many.vectors[0]) > 0.9999
    assert isinstance(batched.backend, BatchingBackend)
    sizes = batched.backend.batch_sizes[batched.model_for("embed_text").key]
    assert sum(size * count for size, count in sizes.items()) == 24
    assert max(sizes) > 1, sizes  # requests were really coalesced
    assert max(sizes) <= 16


async def test_cache_hit_skips_the_model(model_pool: ModelPool) -> None:
    cache = EmbeddingCache()
    router = InferenceRouter(InferenceConfig(batching=False), pool=model_pool, cache=cache)
    try:
        assert isinstance(router.backend, LocalBackend)
        first = await router.embed_text(["unchanged caption", "another line"])
        key = router.model_for("embed_text").key
        calls, items = router.backend.stats[key].calls, router.backend.stats[key].items
        again = await router.embed_text(["another line", "unchanged caption", "another line"])
        assert router.backend.stats[key].calls == calls
        assert router.backend.stats[key].items == items
        np.testing.assert_array_equal(again.vectors[1], first.vectors[0])
        np.testing.assert_array_equal(again.vectors[0], again.vectors[2])
        # A new text costs one more item, not three.
        await router.embed_text(["unchanged caption", "a new line"])
        assert router.backend.stats[key].items == items + 1
        assert cache.stats.hits >= 4  # the cache passed in, although it started empty
        assert len(cache) == 3
    finally:
        await router.aclose()


async def test_duplicates_inside_one_call_are_computed_once(model_pool: ModelPool) -> None:
    router = InferenceRouter(InferenceConfig(batching=False), pool=model_pool, cache=EmbeddingCache())
    try:
        assert isinstance(router.backend, LocalBackend)
        out = await router.embed_text(["same", "same", "same"])
        assert router.backend.stats[router.model_for("embed_text").key].items == 1
        np.testing.assert_array_equal(out.vectors[0], out.vectors[2])
    finally:
        await router.aclose()

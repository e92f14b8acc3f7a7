"""Shadow mode: the candidate never changes live outputs; agreement is recorded on a sample."""

from __future__ import annotations

import random
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pytest

from inference.backend import strings
from inference.cache import EmbeddingCache
from inference.config import InferenceConfig
from inference.local import ModelPool
from inference.registry import MINILM_FP32, MINILM_INT8, WHISPER_TINY_EN, ModelSpec, Tensors, default_registry
from inference.router import InferenceRouter
from inference.shadow import ShadowBackend, ShadowConfig, compare, enable_shadow

TEXTS = [
    f"sentence number {i} about {topic}" for i, topic in enumerate(["cats", "tax law", "rockets", "bread"])
]


@pytest.mark.models
async def test_int8_candidate_agrees_and_live_outputs_are_unchanged(model_pool: ModelPool) -> None:
    plain = InferenceRouter(InferenceConfig(), pool=model_pool, cache=EmbeddingCache())
    shadowed = InferenceRouter(InferenceConfig(), pool=model_pool, cache=EmbeddingCache())
    shadow = enable_shadow(
        shadowed, ShadowConfig(candidates={MINILM_FP32.key: MINILM_INT8.key}, sample_rate=1.0)
    )
    try:
        want = await plain.embed_text(TEXTS)
        got = await shadowed.embed_text(TEXTS)
        await shadow.drain()
    finally:
        await plain.aclose()
        await shadowed.aclose()
    assert got.model == MINILM_FP32.ref
    np.testing.assert_array_equal(got.vectors, want.vectors)
    record = shadow.records[MINILM_FP32.key]
    assert record.compared >= 1
    assert record.agreement == 1.0
    assert record.mean_score > 0.99
    assert "| all-MiniLM-L6-v2:fp32-1 | all-MiniLM-L6-v2:int8-1 |" in shadow.report()


class Constant:
    """A backend answering a fixed vector, or failing."""

    def __init__(self, value: float, fail: bool = False) -> None:
        self.name = "fake"
        self.value = value
        self.fail = fail
        self.calls = 0

    async def infer(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        self.calls += 1
        if self.fail:
            raise RuntimeError("candidate crashed")
        vector = np.zeros((len(inputs["text"]), 384), dtype=np.float32)
        vector[:, 0 if self.value > 0 else 1] = 1.0
        return {"embedding": vector}

    async def is_ready(self, spec: ModelSpec) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def _shadow(live: Constant, candidate: Constant, rate: float, seed: int = 0) -> ShadowBackend:
    return ShadowBackend(
        live,
        registry=default_registry(),
        config=ShadowConfig(candidates={MINILM_FP32.key: MINILM_INT8.key}, sample_rate=rate),
        candidate_backend=candidate,
        rng=random.Random(seed),
    )


async def test_a_crashing_candidate_is_counted_and_invisible() -> None:
    backend = _shadow(Constant(1.0), Constant(1.0, fail=True), rate=1.0)
    out = await backend.infer(MINILM_FP32, {"text": strings(["a"])})
    await backend.drain()
    assert out["embedding"][0, 0] == 1.0
    assert backend.records[MINILM_FP32.key].failures == 1
    assert backend.records[MINILM_FP32.key].compared == 0


async def test_disagreement_is_recorded() -> None:
    backend = _shadow(Constant(1.0), Constant(-1.0), rate=1.0)
    await backend.infer(MINILM_FP32, {"text": strings(["a", "b"])})
    await backend.drain()
    record = backend.records[MINILM_FP32.key]
    assert (record.compared, record.agreed, record.mean_score) == (1, 0, 0.0)


async def test_sample_rate_bounds_the_candidate_traffic() -> None:
    candidate = Constant(1.0)
    backend = _shadow(Constant(1.0), candidate, rate=0.25, seed=7)
    for _ in range(200):
        await backend.infer(MINILM_FP32, {"text": strings(["a"])})
    await backend.drain()
    record = backend.records[MINILM_FP32.key]
    # ~50 of 200 sampled; those beyond max_pending comparisons in flight are skipped, not queued.
    assert 30 <= record.compared + record.skipped <= 70
    assert record.compared == candidate.calls
    assert record.skipped > 0


def test_candidate_must_share_the_input_contract() -> None:
    with pytest.raises(ValueError, match="cannot shadow"):
        ShadowBackend(
            Constant(1.0),
            registry=default_registry(),
            config=ShadowConfig(candidates={MINILM_FP32.key: WHISPER_TINY_EN.key}),
        )


def test_transcript_comparison_uses_word_error_rate() -> None:
    def transcript(text: str) -> Tensors:
        return {"segment_text": strings([text])}

    config = ShadowConfig(max_wer=0.1)
    assert compare(
        WHISPER_TINY_EN, transcript("the quick brown fox"), transcript("the quick brown fox"), config
    ) == (
        1.0,
        True,
    )
    score, agreed = compare(
        WHISPER_TINY_EN, transcript("the quick brown fox"), transcript("a quick brown box"), config
    )
    assert (score, agreed) == (0.5, False)
